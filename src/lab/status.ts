import { existsSync, readFileSync } from "node:fs";
import { serviceHealthy } from "./health.ts";
import { isAlive } from "./processes.ts";
import { endpointUp, nbdClientUri, s3Endpoints, type LabEndpoint, type LabState } from "./state.ts";
import type { ChildStatus } from "./supervisor.ts";

/** One service as `lab status` reports it. */
export interface ServiceHealth extends ChildStatus {
  /** Its process exists and its /healthz answers. */
  healthy: boolean;
}

/** What `lab status --json` prints: the state plus what answers now, and how to use it. */
export interface LabStatus extends LabState {
  services: ServiceHealth[];
  endpoints: (LabEndpoint & { up: boolean })[];
  usage: Record<string, string>;
}

/** Probes every service and endpoint of a running lab. */
export async function labStatus(state: LabState, dir: string): Promise<LabStatus> {
  const ca = state.ca === undefined ? undefined : readFileSync(state.ca, "utf8");
  const services = await Promise.all(
    state.children.map(async (c) => {
      const ok = isAlive(c.pid) && (await serviceHealthy(c.healthUrl, ca));
      return { ...c, healthy: ok };
    }),
  );
  const endpoints = await Promise.all(state.endpoints.map(async (e) => ({ ...e, up: await endpointUp(e.url, ca) })));
  return { ...state, services, endpoints, usage: usage(state, dir) };
}

/** How to use the lab's endpoints, one line per purpose. */
export function usage(state: LabState, dir: string): Record<string, string> {
  const lines: Record<string, string> = {
    environment: `eval "$(photon lab env --dir ${dir})"   # PATH, PHOTON_SERVER/TOKEN, PHOTON_S3_ADMIN, AWS_* for the lab`,
    controller: `${state.controllerUrl}   token: ${state.tokenFile}   e.g. photon node list${state.ca ? ` --ca ${state.ca}` : ""}`,
    S3: `${s3Endpoints(state).join(" ")}   key: ${state.s3KeyFile}   e.g. aws s3 mb s3://bucket`,
    volumes: `photon volume create NAME --size 1G --server ${state.nbdAdminUrl}${state.ca ? ` --ca ${state.ca}` : ""}; then nbdinfo '${nbdClientUri(state, "NAME")}'`,
  };
  const qemu = qemuNbd(state);
  lines["qemu-img"] = qemu
    ? `qemu-img info --object ${qemu.object} --image-opts ${qemu.options},export=NAME   (TLS: the lab CA in ${state.nbdTlsDir})`
    : `qemu-img info ${state.nbdUrl}/NAME`;
  if (state.metadata === "postgres") {
    const pg = state.endpoints.find((e) => e.service === "PostgreSQL")!;
    lines.metadata = `PostgreSQL ${pg.url} (and photon_controller)   password: ${state.postgresPasswordFile}; every S3 endpoint serves one namespace`;
  }
  const node2 = state.nodes[1] ?? state.nodes[0]!;
  if (node2.netns) lines["enter a node"] = `ip netns exec ${node2.netns} bash   (each node: photon-${state.id}-nodeNN)`;
  if (state.linkRate || state.linkDelay) lines.links = `shaped: ${[state.linkRate, state.linkDelay].filter(Boolean).join(", ")} each way`;
  if (state.linkDelayUnavailable) lines["link delay"] = `${state.linkDelayUnavailable.requested} unavailable: ${state.linkDelayUnavailable.reason}`;
  lines.logs = `${dir}/<node>/<service>.log`;
  return lines;
}

/** Single-quoted for a POSIX shell. */
function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * `export` lines that point a shell at the lab: the binary on PATH, the controller and its
 * token, and the S3 endpoint (and every gateway's) with the root key (read from the lab's files).
 */
export function envLines(state: LabState, binaryDir: string): string[] {
  const lines = [`export PATH=${quote(binaryDir)}:"$PATH"`, `export PHOTON_SERVER=${quote(state.controllerUrl)}`];
  if (existsSync(state.tokenFile)) lines.push(`export PHOTON_TOKEN=${quote(readFileSync(state.tokenFile, "utf8").trim())}`);
  if (existsSync(state.s3KeyFile)) {
    const key = readFileSync(state.s3KeyFile, "utf8");
    for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
      const value = new RegExp(`^${name}=(.*)$`, "m").exec(key)?.[1];
      if (value) lines.push(`export ${name}=${quote(value.trim())}`);
    }
  }
  lines.push(`export AWS_ENDPOINT_URL=${quote(state.s3Url)}`, `export AWS_REGION='us-east-1'`);
  // Every gateway of the namespace (two with --metadata postgres), for clients that spread their load.
  lines.push(`export PHOTON_S3_ENDPOINTS=${quote(s3Endpoints(state).join(","))}`);
  lines.push(`export PHOTON_NBD_URL=${quote(state.nbdUrl)}`, `export PHOTON_S3_ADMIN=${quote(state.s3AdminUrl)}`);
  // A TLS lab: photon's client commands and awscli trust the lab CA; NBD clients get its tls-certificates
  // directory (nbds://…?tls-certificates=DIR) and QEMU's options for it.
  if (state.ca) lines.push(`export PHOTON_CA=${quote(state.ca)}`, `export AWS_CA_BUNDLE=${quote(state.ca)}`);
  const qemu = qemuNbd(state);
  if (qemu) {
    lines.push(`export PHOTON_NBD_TLS_DIR=${quote(state.nbdTlsDir!)}`);
    lines.push(`export PHOTON_NBD_QEMU_OBJECT=${quote(qemu.object)}`, `export PHOTON_NBD_QEMU_OPTS=${quote(qemu.options)}`);
  }
  return lines;
}

/**
 * QEMU's way to the central export over TLS (its nbd: URIs take no credentials):
 * `qemu-img info --object OBJECT --image-opts OPTIONS,export=NAME`. Undefined in a plaintext lab.
 */
export function qemuNbd(state: Pick<LabState, "nbdUrl" | "nbdTlsDir">): { object: string; options: string } | undefined {
  if (state.nbdTlsDir === undefined) return undefined;
  const { hostname, port } = new URL(state.nbdUrl);
  return {
    object: `tls-creds-x509,id=photon-lab-tls,dir=${state.nbdTlsDir},endpoint=client`,
    options: `driver=nbd,server.type=inet,server.host=${hostname},server.port=${port || 10809},tls-creds=photon-lab-tls`,
  };
}

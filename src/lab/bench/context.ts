import type { LabNode, LabState } from "../state.ts";
import type { TrustedCa } from "../../http/client-tls.ts";

/** Which lab node plays which part; the seed's nodes when the lab has them, else the highest-numbered ones. */
export interface BenchRoles {
  /** node01: controller, central export, S3 gateway, iperf3 server. */
  server: LabNode;
  /** Where CoronaFS is measured from and first materialized onto: node04, else the last node. */
  worker: LabNode;
  /** The second materialize target: node05, else the highest-numbered other worker; none on a lab too small. */
  secondTarget?: LabNode;
  /** Where the S3 client runs: node03, else the last node. */
  s3Client: LabNode;
}

/** Everything a section needs to measure the running lab. */
export interface BenchContext {
  state: LabState;
  /** The cluster token (admin APIs). */
  token: string;
  /** A TLS lab's CA (PEM), which every client of the bench verifies the services against. */
  ca?: TrustedCa;
  /** The S3 root key. */
  s3Key: { accessKeyId: string; secretAccessKey: string };
  quick: boolean;
  /** This photon binary, run on a node as the S3 client. */
  binary: string;
  roles: BenchRoles;
}

/** One step of the run, shown in the progress display. */
export interface Step {
  label: string;
  run(): Promise<void>;
}

/** A section's steps, the cleanup that runs whatever happened, and its result once the steps ran. */
export interface SectionPlan<T> {
  steps: Step[];
  cleanup?(): Promise<void>;
  result(): T;
}

/** Picks the nodes the seed measured from, or the closest the lab has. */
export function pickRoles(nodes: LabNode[]): BenchRoles {
  if (nodes.length === 0) throw new Error("the lab has no nodes");
  const byName = (name: string) => nodes.find((n) => n.name === name);
  const last = nodes[nodes.length - 1]!;
  const worker = byName("node04") ?? last;
  const workers = nodes.slice(1).filter((n) => n !== worker);
  const secondTarget = byName("node05") ?? workers[workers.length - 1];
  return { server: nodes[0]!, worker, secondTarget, s3Client: byName("node03") ?? last };
}

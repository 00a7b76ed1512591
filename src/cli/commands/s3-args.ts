import { AdminClient } from "../../http/admin-client.ts";
import { clientArgs } from "../args.ts";
import { option } from "../config.ts";
import { adminClient, commandContext } from "../context.ts";

/** The arguments of `photon s3 …`: a client of the s3-gateway's admin API. */
export const s3Args = {
  ...clientArgs,
  server: { ...clientArgs.server, description: "the s3-gateway's admin API URL (default PHOTON_S3_ADMIN, else PHOTON_SERVER, else http://127.0.0.1:7073)" },
} as const;

/**
 * The admin client of the s3-gateway: `--server`, else `PHOTON_S3_ADMIN` (or
 * `s3-admin` in the config file, as the controller has it), else the usual
 * `PHOTON_SERVER` — so a shell pointed at a controller (`photon lab env`) still
 * reaches the gateway.
 */
export function s3Client(args: Record<string, unknown>): AdminClient {
  const { sources } = commandContext(args);
  const gateway = args.server ? undefined : option(sources, "s3-admin");
  return adminClient(gateway ? { ...args, server: gateway } : args, AdminClient, "http://127.0.0.1:7073");
}

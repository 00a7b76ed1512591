import { AdminClient } from "../../http/admin-client.ts";
import { clientArgs } from "../args.ts";
import { adminClient } from "../context.ts";

/** The arguments of `photon s3 …`: a client of the s3-gateway's admin API. */
export const s3Args = { ...clientArgs, server: { ...clientArgs.server, description: "admin API URL (default http://127.0.0.1:7073, the local s3-gateway)" } } as const;

/** The admin client of the s3-gateway that `--server` names. */
export function s3Client(args: Record<string, unknown>): AdminClient {
  return adminClient(args, AdminClient, "http://127.0.0.1:7073");
}

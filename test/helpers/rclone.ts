/**
 * rclone (Go's S3 client, Debian's build) against a gateway as the remote
 * `ph:`, configured through the environment as a user would with `rclone
 * config`; default settings (200 MiB upload cutoff, 5 MiB parts, 4 at a time)
 * unless `settings` names others (e.g. `{ UPLOAD_CUTOFF: "10M" }`). The exit
 * status is returned, not thrown.
 */
export async function rclone(
  gateway: { endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } },
  home: string,
  args: string[],
  settings: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const config: Record<string, string> = {
    TYPE: "s3",
    PROVIDER: "Other",
    ENDPOINT: gateway.endpoint,
    ACCESS_KEY_ID: gateway.credentials.accessKeyId,
    SECRET_ACCESS_KEY: gateway.credentials.secretAccessKey,
    REGION: "us-east-1",
    ...settings,
  };
  const env = { PATH: "/usr/bin:/bin", HOME: home, ...Object.fromEntries(Object.entries(config).map(([k, v]) => [`RCLONE_CONFIG_PH_${k}`, v])) };
  const proc = Bun.spawn(["rclone", "--config", "/dev/null", ...args], { env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

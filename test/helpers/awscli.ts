/** Debian's awscli against a test gateway, as a user runs it; the exit status is returned, not thrown. */
export async function aws(gateway: { endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } }, home: string, ...args: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  const env = { PATH: "/usr/bin:/bin", HOME: home, AWS_ACCESS_KEY_ID: gateway.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: gateway.credentials.secretAccessKey, AWS_DEFAULT_REGION: "us-east-1" };
  const proc = Bun.spawn(["/usr/bin/aws", "--endpoint-url", gateway.endpoint, ...args], { env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout: Buffer.from(stdout), stderr };
}

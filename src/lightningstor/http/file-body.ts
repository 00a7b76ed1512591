/**
 * A response body that lies in files (chunk files), attached to a Response
 * whose own body is empty: the S3 listener sends it with sendfile(2).
 */
export interface FilePart {
  path: string;
  offset: number;
  length: number;
  /** The file's first `size` bytes must have this CRC32 before any of it is sent (absent: already checked). */
  check?: { size: number; crc32: number };
}

const fileBodies = new WeakMap<Response, FilePart[]>();

export function withFileBody(response: Response, parts: FilePart[]): Response {
  fileBodies.set(response, parts);
  return response;
}

export function fileBodyOf(response: Response): FilePart[] | undefined {
  return fileBodies.get(response);
}

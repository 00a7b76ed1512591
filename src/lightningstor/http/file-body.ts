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

/** The parts, and what to call once the response is over (sent or not). */
export interface FileBody {
  parts: FilePart[];
  release(): void;
}

const fileBodies = new WeakMap<Response, FileBody>();

export function withFileBody(response: Response, body: FileBody): Response {
  fileBodies.set(response, body);
  return response;
}

export function fileBodyOf(response: Response): FileBody | undefined {
  return fileBodies.get(response);
}

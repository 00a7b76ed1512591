/** An error answered by the server (or a broken connection), with the NBD errno. */
export class NbdClientError extends Error {
  constructor(
    message: string,
    readonly errno?: number,
  ) {
    super(message);
    this.name = "NbdClientError";
  }
}

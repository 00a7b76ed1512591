/**
 * The base URLs of one admin API served by several processes (two
 * controllers on one database, one of them active): the client keeps using
 * the last one that answered and, when it does not answer or is a standby,
 * tries the others once around the list. Pure: the client does the fetching.
 */
export class FailoverUrls {
  readonly urls: readonly string[];
  private current = 0;

  /** `list`: one URL or several, comma-separated (`http://a:7070,http://b:7070`). */
  constructor(list: string) {
    this.urls = parseUrlList(list);
    if (this.urls.length === 0) throw new Error(`"${list}" names no URL`);
  }

  /** The URL requests go to first: the last one that answered. */
  get preferred(): string {
    return this.urls[this.current]!;
  }

  /** The URLs to try for one request: the preferred one, then the others in list order after it, each once. */
  order(): string[] {
    return this.urls.map((_, i) => this.urls[(this.current + i) % this.urls.length]!);
  }

  /** Records that `url` answered: the next requests start there. */
  answered(url: string): void {
    const index = this.urls.indexOf(url);
    if (index >= 0) this.current = index;
  }
}

/** The URLs of a comma-separated list: trimmed, without trailing slashes, empty entries dropped. */
export function parseUrlList(list: string): string[] {
  return list
    .split(",")
    .map((url) => url.trim().replace(/\/+$/, ""))
    .filter((url) => url !== "");
}

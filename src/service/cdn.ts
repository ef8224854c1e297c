import type { Segment } from '../core/segment.js';

/** Uploads one object to the CDN; throws on failure so the delivery pool can retry. */
export type CdnUpload = (
  url: string,
  body: Uint8Array,
  contentType: string,
  signal: AbortSignal,
) => Promise<void>;

/** HTTP PUT with fetch: the way push-style CDNs and relays take objects. */
export const httpPut: CdnUpload = async (url, body, contentType, signal) => {
  const response = await fetch(url, {
    method: 'PUT',
    // Segment bytes always sit in a plain ArrayBuffer (never a SharedArrayBuffer).
    body: body as Uint8Array<ArrayBuffer>,
    headers: { 'content-type': contentType },
    signal,
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`CDN PUT ${url} answered ${response.status}`);
};

/**
 * The origin's view of a push CDN: which segments it already holds, and the hit rate of
 * deliveries made through it (a hit is a delivery whose segment the CDN already had).
 */
export class CdnForwarder {
  private base: string | undefined;
  private readonly held = new Set<string>();
  private hits = 0;
  private misses = 0;

  constructor(private readonly upload: CdnUpload = httpPut) {}

  get enabled(): boolean {
    return this.base !== undefined;
  }

  get baseUrl(): string | undefined {
    return this.base;
  }

  /** Sends deliveries through the CDN at `baseUrl` (http or https). */
  enable(baseUrl: string): void {
    const url = new URL(baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`CDN base URL must be http or https, got ${url.protocol}`);
    }
    this.base = url.href.replace(/\/+$/, '');
    this.held.clear();
  }

  disable(): void {
    this.base = undefined;
    this.held.clear();
  }

  holds(recordingId: string, segment: Segment): boolean {
    return this.held.has(key(recordingId, segment));
  }

  /** Uploads a segment to the CDN at /live/{recording}/{profile}/{segment id}. */
  async push(recordingId: string, segment: Segment, signal: AbortSignal): Promise<void> {
    if (this.base === undefined) throw new Error('CDN is not enabled');
    const url = `${this.base}/live/${encodeURIComponent(recordingId)}/${segment.profile}/${encodeURIComponent(segment.id)}`;
    await this.upload(url, segment.data, segment.contentType, signal);
    this.held.add(key(recordingId, segment));
  }

  /** Counts one delivery made through the CDN. */
  recordDelivery(hit: boolean): void {
    if (hit) this.hits++;
    else this.misses++;
  }

  /** Expired segments leave the CDN's working set too. */
  forget(recordingId: string, segment: Segment): void {
    this.held.delete(key(recordingId, segment));
  }

  /** Fraction of CDN deliveries that were hits; 0 before any. */
  hitRate(): number {
    const total = this.hits + this.misses;
    return total === 0 ? 0 : this.hits / total;
  }

  counts(): { hits: number; misses: number } {
    return { hits: this.hits, misses: this.misses };
  }
}

function key(recordingId: string, segment: Segment): string {
  return `${recordingId}/${segment.profile}/${segment.id}`;
}

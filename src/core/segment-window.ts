import { DistributionError, SegmentExistsError } from './errors.js';
import type { Segment } from './segment.js';

/**
 * The sliding window of one rendition: segments in sequence order, oldest first.
 * An array with a moving head keeps push, expiry and lookup by sequence O(1) amortised.
 */
export class SegmentWindow {
  private items: Segment[] = [];
  private head = 0;
  private readonly byId = new Map<string, Segment>();
  private totalBytes = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get oldest(): Segment | undefined {
    return this.items[this.head];
  }

  get newest(): Segment | undefined {
    return this.size === 0 ? undefined : this.items[this.items.length - 1];
  }

  /** Appends a segment; its sequence must follow the newest one. */
  push(segment: Segment): void {
    if (this.byId.has(segment.id)) throw new SegmentExistsError(segment.id, segment.profile);
    const newest = this.newest;
    if (newest && segment.sequence <= newest.sequence) {
      throw new DistributionError(
        'SEGMENT_OUT_OF_ORDER',
        `sequence ${segment.sequence} at '${segment.profile}' does not follow ${newest.sequence}`,
        'sequence',
      );
    }
    this.items.push(segment);
    this.byId.set(segment.id, segment);
    this.totalBytes += segment.data.byteLength;
  }

  get(id: string): Segment | undefined {
    return this.byId.get(id);
  }

  /** The first segment with a sequence greater than `sequence`. */
  nextAfter(sequence: number): Segment | undefined {
    const first = this.oldest;
    if (!first) return undefined;
    if (sequence < first.sequence) return first;
    // Sequences are usually contiguous, so try the direct slot before searching.
    const guess = this.items[this.head + (sequence + 1 - first.sequence)];
    if (guess?.sequence === sequence + 1) return guess;
    let lo = this.head;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.items[mid] as Segment).sequence <= sequence) lo = mid + 1;
      else hi = mid;
    }
    return this.items[lo];
  }

  /** Where a new viewer starts: `behind` segments back from the live edge (or the oldest). */
  liveStart(behind: number): Segment | undefined {
    if (this.size === 0) return undefined;
    return this.items[Math.max(this.head, this.items.length - Math.max(1, behind))];
  }

  /** Drops segments published more than `retentionMs` before `now`; returns them. */
  expire(now: number, retentionMs: number): Segment[] {
    const expired: Segment[] = [];
    while (this.head < this.items.length) {
      const segment = this.items[this.head] as Segment;
      if (now - segment.createdAt <= retentionMs) break;
      expired.push(segment);
      this.byId.delete(segment.id);
      this.totalBytes -= segment.data.byteLength;
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return expired;
  }

  /** Segments oldest first. */
  segments(): readonly Segment[] {
    return this.items.slice(this.head);
  }
}

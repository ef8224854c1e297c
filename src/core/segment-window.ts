import { DistributionError, SegmentExistsError } from './errors.js';
import type { InitSection, Segment } from './segment.js';

/**
 * The sliding window of one rendition: segments in sequence order, oldest first.
 * An array with a moving head keeps push, expiry and lookup by sequence O(1) amortised.
 */
export class SegmentWindow {
  private items: Segment[] = [];
  private head = 0;
  private readonly byId = new Map<string, Segment>();
  private totalBytes = 0;
  private discontinuities = 0;
  private version = 0;
  private readonly inits = new Map<string, InitSection>();

  get size(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Changes whenever the window's contents change; playlists are cached per version. */
  get revision(): number {
    return this.version;
  }

  /** Discontinuity sequence the next segment continues from (counts restarts ever seen). */
  get discontinuitySequence(): number {
    return this.discontinuities;
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
    this.discontinuities = segment.discontinuitySequence;
    this.version++;
  }

  /**
   * Restart recovery: continues the discontinuity sequence from `discontinuitySequence` (what
   * the rendition had reached) when no segment of its came back to carry it.
   */
  resumeDiscontinuitySequence(discontinuitySequence: number): void {
    if (discontinuitySequence > this.discontinuities) this.discontinuities = discontinuitySequence;
  }

  /** Keeps an fMP4 initialization section for the segments that will name it. */
  putInit(init: InitSection): void {
    this.inits.set(init.id, init);
    this.version++;
  }

  getInit(id: string): InitSection | undefined {
    return this.inits.get(id);
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
    if (expired.length > 0) {
      this.version++;
      this.dropUnusedInits(expired);
    }
    return expired;
  }

  /** Forgets initialization sections no held segment names (the newest always stays). */
  private dropUnusedInits(expired: readonly Segment[]): void {
    const inUse = new Set<string | undefined>([this.newest?.initId]);
    for (let i = this.head; i < this.items.length; i++) inUse.add(this.items[i]?.initId);
    for (const segment of expired) {
      if (segment.initId !== undefined && !inUse.has(segment.initId))
        this.inits.delete(segment.initId);
    }
  }

  /** The newest `count` segments, oldest first. */
  latest(count: number): readonly Segment[] {
    return this.items.slice(Math.max(this.head, this.items.length - count));
  }

  /**
   * The newest segments (oldest first) whose durations, lost numbers' included, add up to no more
   * than `seconds`, and never fewer than `atLeast`: a DVR window's playlist.
   */
  latestSpanning(seconds: number, atLeast: number): readonly Segment[] {
    let start = this.items.length;
    let total = 0;
    while (start > this.head) {
      const segment = this.items[start - 1] as Segment;
      const gaps = (segment.gapBefore ?? []).reduce((sum, d) => sum + d, 0);
      total += segment.durationSec + gaps;
      if (total > seconds && this.items.length - start >= atLeast) break;
      start--;
    }
    return this.items.slice(start);
  }

  /** Segments oldest first. */
  segments(): readonly Segment[] {
    return this.items.slice(this.head);
  }
}

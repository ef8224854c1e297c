/** Where one media sequence number sits on the stream's timeline. */
interface Placement {
  /** Wall-clock time of its first frame, ms since the epoch. */
  readonly startMs: number;
  readonly durationSec: number;
}

/** Media sequence numbers a stream remembers: far more than any rendition lags behind another. */
const REMEMBERED = 256;

/**
 * A stream's media timeline, shared by its renditions, which program date-times come from. The
 * first rendition to publish a media sequence number places it; the others reuse that place, so
 * the number has one date-time in every rendition. A number placed right after its predecessor
 * starts where that one ends (previous date-time plus previous duration), so segments pushed
 * at once are spaced by their durations, not by their arrival; the stream's first segment, one
 * after a discontinuity and one whose predecessor never arrived are anchored to the wall clock
 * (its first frame one duration before its publication), never before a number below it.
 */
export class MediaTimeline {
  private readonly placed = new Map<number, Placement>();

  /** @param nominalSec segment duration assumed for numbers nobody published */
  constructor(private readonly nominalSec: number) {}

  /** The start (ms) a segment of `sequence` gets; nothing is recorded until `place`. */
  startOf(sequence: number, durationSec: number, discontinuity: boolean, now: number): number {
    const known = this.placed.get(sequence);
    if (known) return known.startMs;
    const previous = discontinuity ? undefined : this.placed.get(sequence - 1);
    if (previous) return previous.startMs + previous.durationSec * 1000;
    return this.anchor(sequence, durationSec, now);
  }

  /** Records where `sequence` starts, unless a rendition placed it already. */
  place(sequence: number, startMs: number, durationSec: number): void {
    if (this.placed.has(sequence)) return;
    this.placed.set(sequence, { startMs, durationSec });
    if (this.placed.size > REMEMBERED) {
      const oldest = this.placed.keys().next().value as number;
      this.placed.delete(oldest);
    }
  }

  /** The duration a rendition published for `sequence`, if any did. */
  durationOf(sequence: number): number | undefined {
    return this.placed.get(sequence)?.durationSec;
  }

  /**
   * The wall-clock start of a segment published `now`, kept after every number placed below it
   * (with the nominal duration for numbers between) and before every number placed above it, so
   * date-times rise with media sequence numbers in every playlist.
   */
  private anchor(sequence: number, durationSec: number, now: number): number {
    const nominalMs = this.nominalSec * 1000;
    let after = Number.NEGATIVE_INFINITY;
    let before = Number.POSITIVE_INFINITY;
    for (const [other, at] of this.placed) {
      if (other < sequence) {
        after = Math.max(
          after,
          at.startMs + at.durationSec * 1000 + (sequence - other - 1) * nominalMs,
        );
      } else {
        before = Math.min(before, at.startMs - (other - sequence) * nominalMs);
      }
    }
    const start = Math.max(now - durationSec * 1000, after);
    return start > before ? Math.max(before, after) : start;
  }
}

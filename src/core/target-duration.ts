/** The longest encoder-declared target a stream's target is fixed from, in nominal segments. */
export const MAX_DECLARED_TARGET_SEGMENTS = 3;

/**
 * A stream's EXT-X-TARGETDURATION, fixed when its first segment is published and kept for the
 * stream's life (players read it once; a playlist must not change it): the largest of the nominal
 * segment duration, the first segment's rounded duration, and the encoder's declared target
 * bounded to three nominal segments (headroom for keyframes that miss the boundary, while a
 * player's hold-back of three target durations stays short). Should a later segment still
 * round above it, listing an EXTINF beyond the target would break players worse than a changed
 * target, so the target rises to it once and `raises` counts it for a warning.
 */
export class TargetDuration {
  private value: number | undefined;
  private raised = 0;

  constructor(private readonly nominalSec: number) {}

  /** The fixed target in whole seconds; the nominal duration before the first segment. */
  get seconds(): number {
    return this.value ?? Math.max(1, Math.ceil(this.nominalSec));
  }

  /** Whether the first segment has fixed it. */
  get fixed(): boolean {
    return this.value !== undefined;
  }

  /** Times a segment longer than the promise raised it. */
  get raises(): number {
    return this.raised;
  }

  /**
   * Restart recovery: the target the stream had fixed comes back fixed (players that read it
   * before the restart read it again unchanged).
   */
  restore(seconds: number): void {
    if (Number.isSafeInteger(seconds) && seconds > 0)
      this.value = Math.max(this.value ?? 0, seconds);
  }

  /** What the target would be after admitting a segment of `durationSec` (nothing changes). */
  peek(durationSec: number, declaredSec?: number): number {
    const rounded = Math.max(1, Math.round(durationSec));
    if (this.value === undefined) {
      const bound = Math.ceil(this.nominalSec * MAX_DECLARED_TARGET_SEGMENTS);
      const declared =
        declaredSec !== undefined && Number.isFinite(declaredSec) && declaredSec > 0
          ? Math.min(Math.ceil(declaredSec), bound)
          : 0;
      return Math.max(this.seconds, rounded, declared);
    }
    return Math.max(this.value, rounded);
  }

  /** Admits a published segment; returns the previous target when this one raised it. */
  admit(durationSec: number, declaredSec?: number): number | undefined {
    const next = this.peek(durationSec, declaredSec);
    const before = this.value;
    this.value = next;
    if (before === undefined || next === before) return undefined;
    this.raised++;
    return before;
  }
}

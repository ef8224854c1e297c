/** How an encoder's pace is judged (the ladder asks ffmpeg for a progress block every second). */
export const ENCODER_PROGRESS_DEFAULTS = {
  /** Wall-clock span the recent speed is measured over. */
  windowMs: 5000,
  /** Recent speed under which an encoder counts as behind real time. */
  behindBelow: 0.9,
  /** No progress block for this long: the encoder is stalled (three missed blocks). */
  stalledAfterMs: 3000,
} as const;

export type EncoderProgressSettings = {
  readonly [K in keyof typeof ENCODER_PROGRESS_DEFAULTS]: number;
};

interface Sample {
  readonly at: number;
  readonly mediaSeconds: number;
}

/**
 * Reads ffmpeg's `-progress` output (key=value lines, one block per period ending in
 * `progress=continue|end`) and judges the encoder's pace. ffmpeg's own `speed=` is averaged
 * since the process started, so a stall late in a long run barely moves it, and it reads
 * real time again a second after a stall while `-re` catches up; the pace here is media time
 * gained over the last window of wall-clock time instead. Pure: lines and times are passed in.
 */
export class EncoderProgress {
  private readonly samples: Sample[] = [];
  private latest: number | undefined;
  private mediaSeconds = 0;

  constructor(private readonly settings: EncoderProgressSettings = ENCODER_PROGRESS_DEFAULTS) {}

  /** Takes one line of progress output that arrived at `now` (ms). */
  line(text: string, now: number): void {
    const eq = text.indexOf('=');
    if (eq < 0) return;
    const key = text.slice(0, eq).trim();
    const value = text.slice(eq + 1).trim();
    if (key === 'speed') {
      const speed = Number.parseFloat(value);
      if (Number.isFinite(speed)) this.latest = speed;
    } else if (key === 'out_time_us' || key === 'out_time_ms') {
      // ffmpeg prints microseconds under both names.
      const us = Number(value);
      if (Number.isFinite(us)) this.mediaSeconds = us / 1e6;
    } else if (key === 'progress') {
      this.sample(now);
    }
  }

  /** ffmpeg's own real-time factor (averaged since the process started), once known. */
  get speed(): number | undefined {
    return this.latest;
  }

  /** Media time encoded so far, in seconds. */
  get encodedSeconds(): number {
    return this.mediaSeconds;
  }

  /**
   * Media seconds encoded per wall-clock second over the last window, once the encoder has run
   * a full window; 0 while it is stalled.
   */
  recentSpeed(now: number): number | undefined {
    if (this.stalled(now)) return 0;
    const newest = this.samples.at(-1);
    const base = this.samples[0];
    if (!newest || !base || newest.at - base.at < this.settings.windowMs) return undefined;
    return (newest.mediaSeconds - base.mediaSeconds) / ((newest.at - base.at) / 1000);
  }

  /** True once the encoder reported progress and then went quiet for `stalledAfterMs`. */
  stalled(now: number): boolean {
    const newest = this.samples.at(-1);
    return newest !== undefined && now - newest.at >= this.settings.stalledAfterMs;
  }

  /** True when the encoder is stalled or its recent speed is under `behindBelow`. */
  behind(now: number): boolean {
    const speed = this.recentSpeed(now);
    return speed !== undefined && speed < this.settings.behindBelow;
  }

  /** Forgets samples (a restarted process starts afresh). */
  reset(): void {
    this.samples.length = 0;
    this.latest = undefined;
    this.mediaSeconds = 0;
  }

  private sample(now: number): void {
    this.samples.push({ at: now, mediaSeconds: this.mediaSeconds });
    // Keep one sample at or before the window's start as the base of the measurement.
    while (
      this.samples.length > 2 &&
      (this.samples[1] as Sample).at <= now - this.settings.windowMs
    )
      this.samples.shift();
  }
}

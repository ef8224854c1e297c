/**
 * Reads ffmpeg's `-progress` output (key=value lines, one block per period ending in
 * `progress=continue|end`) and keeps the real-time factor. Pure: feed it lines.
 */
export class EncoderProgress {
  private readonly recent: number[] = [];
  private latest: number | undefined;
  private mediaSeconds = 0;

  constructor(
    /** Samples the "behind real time" verdict looks at. */
    private readonly window = 5,
    /** Speed under which an encoder counts as falling behind. */
    readonly behindBelow = 0.95,
  ) {}

  /** Takes one line of progress output. */
  line(text: string): void {
    const eq = text.indexOf('=');
    if (eq < 0) return;
    const key = text.slice(0, eq).trim();
    const value = text.slice(eq + 1).trim();
    if (key === 'speed') {
      const speed = Number.parseFloat(value);
      if (!Number.isFinite(speed)) return;
      this.latest = speed;
      this.recent.push(speed);
      if (this.recent.length > this.window) this.recent.shift();
    } else if (key === 'out_time_us' || key === 'out_time_ms') {
      // ffmpeg prints microseconds under both names.
      const us = Number(value);
      if (Number.isFinite(us)) this.mediaSeconds = us / 1e6;
    }
  }

  /** The latest real-time factor (1.0 = real time), once known. */
  get speed(): number | undefined {
    return this.latest;
  }

  /** Media time encoded so far, in seconds. */
  get encodedSeconds(): number {
    return this.mediaSeconds;
  }

  /** True when every recent sample (a full window of them) was below real time. */
  get behind(): boolean {
    return this.recent.length >= this.window && this.recent.every((s) => s < this.behindBelow);
  }

  /** Forgets samples (a restarted process starts afresh). */
  reset(): void {
    this.recent.length = 0;
    this.latest = undefined;
    this.mediaSeconds = 0;
  }
}

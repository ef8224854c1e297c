/** The share of failures among the last `size` outcomes, so health recovers once failures stop. */
export class OutcomeWindow {
  private readonly failures: Uint8Array;
  private next = 0;
  private filled = 0;
  private failed = 0;

  constructor(size: number) {
    this.failures = new Uint8Array(size);
  }

  record(failure: boolean): void {
    const value = failure ? 1 : 0;
    this.failed += value - (this.failures[this.next] ?? 0);
    this.failures[this.next] = value;
    this.next = (this.next + 1) % this.failures.length;
    if (this.filled < this.failures.length) this.filled++;
  }

  get count(): number {
    return this.filled;
  }

  /** Failures over outcomes seen, 0 with none. */
  failureRate(): number {
    return this.filled === 0 ? 0 : this.failed / this.filled;
  }
}

/**
 * The delivery-pool places every target's pushes share: fewer than the pool's workers, so a
 * viewer's delivery always finds a worker free, however many targets hang (a push holds its
 * worker through its attempts, their timeouts and the backoff between them). A scheduler takes
 * a place per push it submits and gives it back when the push settles; one that finds none
 * waits, and is woken (oldest first) when a place frees.
 */
export class PushSlots {
  private used = 0;
  // A Set keeps insertion order: the first waiter is the one that waited longest.
  private readonly waiting = new Set<() => void>();

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Takes a place; false when every one is taken. */
  take(): boolean {
    if (this.used >= this.capacity) return false;
    this.used++;
    return true;
  }

  /**
   * Gives a place back and wakes waiters, oldest first, while places are free; `by`, the
   * releaser's own wake, goes behind the others (round robin between targets).
   */
  release(by?: () => void): void {
    this.used = Math.max(0, this.used - 1);
    if (by && this.waiting.delete(by)) this.waiting.add(by);
    for (const wake of [...this.waiting]) {
      if (this.used >= this.capacity) return;
      // A waiter that finds no place again (another took it) waits again, at the back.
      this.waiting.delete(wake);
      wake();
    }
  }

  /** Calls `wake` once a place frees (once, however often it asks). */
  waitFor(wake: () => void): void {
    this.waiting.add(wake);
  }

  /** No longer wakes `wake` (its scheduler stopped). */
  forget(wake: () => void): void {
    this.waiting.delete(wake);
  }
}

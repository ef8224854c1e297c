/**
 * Requests waiting at a stream's live edge (the long poll of `GET …/next`): each waits for the
 * stream's next publish, its own deadline or its abort signal, whichever comes first.
 */
export class LiveEdgeWaiters {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Resolves at the stream's next publish (or end, or removal), after `timeoutMs`, or on abort. */
  next(recordingId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.waiters.get(recordingId);
      if (!waiters) {
        waiters = new Set();
        this.waiters.set(recordingId, waiters);
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        waiters.delete(done);
        if (waiters.size === 0 && this.waiters.get(recordingId) === waiters) {
          this.waiters.delete(recordingId);
        }
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }

  /** Wakes every request waiting on the stream. */
  wake(recordingId: string): void {
    const waiters = this.waiters.get(recordingId);
    if (!waiters) return;
    for (const done of [...waiters]) done();
  }

  /** Wakes every waiting request of every stream (shutdown). */
  wakeAll(): void {
    for (const recordingId of [...this.waiters.keys()]) this.wake(recordingId);
  }
}

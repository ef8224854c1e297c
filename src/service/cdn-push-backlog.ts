/** What the backlog needs of a job: a key that names its object, and a priority. */
export interface BacklogEntry {
  readonly key: string;
  /** Higher goes first; equal priorities go oldest first. */
  readonly priority: number;
}

/**
 * The pushes waiting for one target, bounded: a target that is down must not make the server
 * hold ever more work. At the bound the oldest job makes room (the caller counts it dropped);
 * what is dropped is planned again while the origin still holds it, so a target that comes back
 * catches up with what is still worth having. A job already waiting is not added twice.
 *
 * Written by hand rather than with p-queue: that queue neither drops nor deduplicates, and the
 * pool it feeds is one. A linear scan for the next job is enough at a few hundred entries.
 */
export class PushBacklog<T extends BacklogEntry> {
  // A Map keeps insertion order: its first entry is the oldest.
  private readonly jobs = new Map<string, T>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.jobs.size;
  }

  has(key: string): boolean {
    return this.jobs.has(key);
  }

  /**
   * Adds `job` unless one of its key waits. At the bound, with `evict` the oldest job is dropped
   * to make room and returned; without, `job` is not taken (returned false).
   */
  add(job: T, evict = true): { added: boolean; dropped?: T } {
    if (this.jobs.has(job.key)) return { added: false };
    let dropped: T | undefined;
    if (this.jobs.size >= this.capacity) {
      if (!evict || this.capacity === 0) return { added: false };
      dropped = this.jobs.values().next().value as T;
      this.jobs.delete(dropped.key);
    }
    this.jobs.set(job.key, job);
    return dropped ? { added: true, dropped } : { added: true };
  }

  /** The job to run next (highest priority, oldest among equals), left in place. */
  next(): T | undefined {
    let best: T | undefined;
    for (const job of this.jobs.values()) {
      if (!best || job.priority > best.priority) best = job;
    }
    return best;
  }

  delete(key: string): void {
    this.jobs.delete(key);
  }

  /** Empties the backlog; returns what it held, oldest first. */
  clear(): T[] {
    const all = [...this.jobs.values()];
    this.jobs.clear();
    return all;
  }
}

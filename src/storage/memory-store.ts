import type { EncoderState } from '../ingest/encoder-job.js';
import type {
  EncoderJobRecord,
  SessionRecord,
  Store,
  StoredEncoderJob,
  StoredStreamKey,
  StreamRecord,
  StreamUpdate,
} from './store.js';

/**
 * The Store in memory: what the server uses when persistence is off, and what unit tests of
 * consumers use. It keeps the SQLite store's contract (test/storage/store-contract.test.ts):
 * session snapshots are taken at flush or read time, reads see every earlier write, a counter
 * never goes back. Nothing outlives the process.
 */
export class MemoryStore implements Store {
  private readonly streams = new Map<string, StreamRecord>();
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly pendingSessions = new Map<string, () => SessionRecord>();
  private readonly counters = new Map<string, number>();
  private readonly jobs = new Map<string, EncoderJobRecord>();
  private readonly streamKeys = new Map<string, string>();
  private closed = false;

  /** `onError` hears of a session snapshot that threw (its write is dropped, as in SQLite). */
  constructor(private readonly onError: (error: Error) => void = () => {}) {}

  saveStream(record: StreamRecord): void {
    if (!this.closed) this.streams.set(record.recordingId, record);
  }

  updateStream(recordingId: string, update: StreamUpdate): void {
    const stored = this.streams.get(recordingId);
    if (!stored || this.closed) return;
    const changed: Record<string, unknown> = { ...stored };
    for (const [key, value] of Object.entries(update))
      if (value !== undefined) changed[key] = value;
    this.streams.set(recordingId, changed as unknown as StreamRecord);
  }

  endStream(recordingId: string, endedAt: number): void {
    const stored = this.streams.get(recordingId);
    if (stored && !this.closed) this.streams.set(recordingId, { ...stored, endedAt });
  }

  deleteStream(recordingId: string): void {
    if (this.closed) return;
    // Snapshots queued before the deletion belong to it, as in the SQLite store's queue order.
    this.flush();
    this.streams.delete(recordingId);
    for (const [id, session] of this.sessions)
      if (session.recordingId === recordingId) this.sessions.delete(id);
  }

  getStream(recordingId: string): StreamRecord | undefined {
    return this.streams.get(recordingId);
  }

  listStreams(): StreamRecord[] {
    return [...this.streams.values()].sort(
      (a, b) => a.startedAt - b.startedAt || compare(a.recordingId, b.recordingId),
    );
  }

  saveSession(sessionId: string, snapshot: () => SessionRecord): void {
    if (!this.closed) this.pendingSessions.set(sessionId, snapshot);
  }

  listSessions(recordingId: string): SessionRecord[] {
    this.flush();
    return [...this.sessions.values()]
      .filter((s) => s.recordingId === recordingId)
      .sort(
        (a, b) =>
          a.joinSeq - b.joinSeq || a.joinedAt - b.joinedAt || compare(a.sessionId, b.sessionId),
      );
  }

  raiseCounter(name: string, value: number): void {
    if (!this.closed && value > (this.counters.get(name) ?? Number.NEGATIVE_INFINITY))
      this.counters.set(name, value);
  }

  readCounters(): Record<string, number> {
    return Object.fromEntries(this.counters);
  }

  saveEncoderJob(record: EncoderJobRecord): void {
    if (!this.closed) this.jobs.set(record.jobId, record);
  }

  setEncoderJobState(jobId: string, state: EncoderState): void {
    const stored = this.jobs.get(jobId);
    if (stored && !this.closed) this.jobs.set(jobId, { ...stored, state });
  }

  deleteEncoderJob(jobId: string): void {
    if (!this.closed) this.jobs.delete(jobId);
  }

  listEncoderJobs(): StoredEncoderJob[] {
    return [...this.jobs.values()].sort(
      (a, b) => a.startedAt - b.startedAt || compare(a.jobId, b.jobId),
    );
  }

  saveStreamKey(recordingId: string, key: string): void {
    if (!this.closed) this.streamKeys.set(recordingId, key);
  }

  deleteStreamKey(recordingId: string): void {
    if (!this.closed) this.streamKeys.delete(recordingId);
  }

  listStreamKeys(): StoredStreamKey[] {
    return [...this.streamKeys]
      .sort(([a], [b]) => compare(a, b))
      .map(([recordingId, key]) => ({ recordingId, key }));
  }

  /** Takes the queued session snapshots (the SQLite store writes them here). */
  flush(): void {
    const pending = [...this.pendingSessions];
    this.pendingSessions.clear();
    for (const [sessionId, snapshot] of pending) {
      try {
        this.sessions.set(sessionId, { ...snapshot(), sessionId });
      } catch (error) {
        this.onError(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  close(): void {
    this.flush();
    this.closed = true;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

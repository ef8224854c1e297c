import type { EncoderState } from '../ingest/encoder-job.js';
import type { EncoderJobRecord, SessionRecord, StreamRecord, StreamUpdate } from './store.js';

/** A stream update as queued: the ended flag merges with the other changes of the batch. */
export type QueuedStreamUpdate = StreamUpdate & { endedAt?: number };

/** One queued write, applied in queue order. */
export type WriteOp =
  | { readonly kind: 'saveStream'; readonly record: StreamRecord }
  | { readonly kind: 'updateStream'; readonly recordingId: string; update: QueuedStreamUpdate }
  | { readonly kind: 'deleteStream'; readonly recordingId: string }
  | { readonly kind: 'saveSessions'; readonly sessions: ReadonlyMap<string, () => SessionRecord> }
  | { readonly kind: 'raiseCounter'; readonly name: string; value: number }
  | { readonly kind: 'saveEncoderJob'; readonly record: EncoderJobRecord }
  | { readonly kind: 'setEncoderJobState'; readonly jobId: string; readonly state: EncoderState }
  | { readonly kind: 'deleteEncoderJob'; readonly jobId: string }
  | { readonly kind: 'saveStreamKey'; readonly recordingId: string; readonly key: string }
  | { readonly kind: 'deleteStreamKey'; readonly recordingId: string };

type Op<K extends WriteOp['kind']> = Extract<WriteOp, { kind: K }>;

/** How many writes an entry stands for (a group of sessions counts each). */
export function writesIn(op: WriteOp): number {
  return op.kind === 'saveSessions' ? op.sessions.size : 1;
}

/**
 * The write-behind queue's contents: writes in the order they were accepted, with repeated
 * writes of one thing folded into the first still waiting (a session's snapshot replaced, a
 * stream's updates merged, a counter's highest value kept). Folding into an earlier place is
 * safe because nothing queued between them touches the same row, except a stream's deletion
 * or replacement, which ends the folding for what it touches.
 *
 * Session writes, the busiest by far, go into one map (a Map.set on the serving path) that
 * takes its place in the order when a stream deletion closes it or the queue is taken: only a
 * deletion touches the sessions table besides them.
 *
 * Each write method returns true when the queue grew, false when the write folded.
 */
export class PendingWrites {
  private ops: WriteOp[] = [];
  private sessions = new Map<string, () => SessionRecord>();
  private readonly streamUpdates = new Map<string, Op<'updateStream'>>();
  private readonly counters = new Map<string, Op<'raiseCounter'>>();
  /** Writes queued (each session once), sessions of the open map included. */
  private queued = 0;

  get size(): number {
    return this.queued;
  }

  saveStream(record: StreamRecord): boolean {
    this.streamUpdates.delete(record.recordingId);
    return this.add({ kind: 'saveStream', record });
  }

  updateStream(recordingId: string, update: QueuedStreamUpdate): boolean {
    const queued = this.streamUpdates.get(recordingId);
    if (queued) {
      queued.update = { ...queued.update, ...definedFields(update) };
      return false;
    }
    const op: Op<'updateStream'> = {
      kind: 'updateStream',
      recordingId,
      update: definedFields(update),
    };
    this.streamUpdates.set(recordingId, op);
    return this.add(op);
  }

  deleteStream(recordingId: string): boolean {
    this.streamUpdates.delete(recordingId);
    // Sessions written so far go before the deletion (it takes the stream's sessions); a later
    // write of one of them lands after it.
    this.closeSessions();
    return this.add({ kind: 'deleteStream', recordingId });
  }

  saveSession(sessionId: string, snapshot: () => SessionRecord): boolean {
    const before = this.sessions.size;
    this.sessions.set(sessionId, snapshot);
    if (this.sessions.size === before) return false;
    this.queued++;
    return true;
  }

  raiseCounter(name: string, value: number): boolean {
    const queued = this.counters.get(name);
    if (queued) {
      if (value > queued.value) queued.value = value;
      return false;
    }
    const op: Op<'raiseCounter'> = { kind: 'raiseCounter', name, value };
    this.counters.set(name, op);
    return this.add(op);
  }

  saveEncoderJob(record: EncoderJobRecord): boolean {
    return this.add({ kind: 'saveEncoderJob', record });
  }

  setEncoderJobState(jobId: string, state: EncoderState): boolean {
    return this.add({ kind: 'setEncoderJobState', jobId, state });
  }

  deleteEncoderJob(jobId: string): boolean {
    return this.add({ kind: 'deleteEncoderJob', jobId });
  }

  saveStreamKey(recordingId: string, key: string): boolean {
    return this.add({ kind: 'saveStreamKey', recordingId, key });
  }

  deleteStreamKey(recordingId: string): boolean {
    return this.add({ kind: 'deleteStreamKey', recordingId });
  }

  /** Everything queued, oldest first; the queue is empty afterwards. */
  take(): WriteOp[] {
    this.closeSessions();
    const ops = this.ops;
    this.ops = [];
    this.queued = 0;
    this.streamUpdates.clear();
    this.counters.clear();
    return ops;
  }

  /** Puts back writes that could not be applied, before anything queued since. */
  putBack(ops: readonly WriteOp[]): void {
    this.ops = [...ops, ...this.ops];
    for (const op of ops) this.queued += writesIn(op);
  }

  private closeSessions(): void {
    if (this.sessions.size === 0) return;
    this.ops.push({ kind: 'saveSessions', sessions: this.sessions });
    this.sessions = new Map();
  }

  private add(op: WriteOp): boolean {
    this.ops.push(op);
    this.queued++;
    return true;
  }
}

/** `update` without its undefined fields, which mean "keep" (StreamUpdate). */
function definedFields(update: QueuedStreamUpdate): QueuedStreamUpdate {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(update)) if (value !== undefined) out[key] = value;
  return out as QueuedStreamUpdate;
}

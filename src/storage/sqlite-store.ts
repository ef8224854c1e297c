import path from 'node:path';
import Database, { type Statement } from 'better-sqlite3';
import type { EncoderState } from '../ingest/encoder-job.js';
import { migrate } from './migrations.js';
import { PendingWrites, type WriteOp, writesIn } from './pending-writes.js';
import { loadOrCreateKey, seal, unseal } from './sealed-text.js';
import {
  encoderJobFromRow,
  encoderJobParams,
  RowError,
  SESSION_COLUMNS,
  sessionFromRow,
  sessionParams,
  streamFromRow,
  streamKeyFromRow,
  streamParams,
  streamUpdateParams,
} from './sqlite-rows.js';
import {
  type EncoderJobRecord,
  type EncoderSource,
  type SessionRecord,
  STORAGE_DEFAULTS,
  type Store,
  type StoredEncoderJob,
  type StoredStreamKey,
  type StreamRecord,
  type StreamUpdate,
} from './store.js';
import { StoreCorruptError, StoreError, StoreLockedError } from './store-errors.js';

export interface SqliteStoreOptions {
  readonly batchIntervalMs?: number;
  readonly batchSize?: number;
  readonly maxQueued?: number;
  /**
   * Key sealing encoder sources and stream keys; by default the key file `vtp.key` beside the
   * database.
   */
  readonly sealKey?: Buffer;
  /**
   * Where a failed flush, a write that cannot be stored, a row that cannot be read, or a write
   * after close is reported; never thrown at the writer. Default: a process warning.
   */
  readonly onError?: (error: Error) => void;
}

/** What the store has done, for metrics and tests. */
export interface SqliteStoreStats {
  readonly queued: number;
  readonly flushes: number;
  /** Queued writes applied (a session updated many times in one batch counts once). */
  readonly writesApplied: number;
  readonly failedFlushes: number;
  readonly lastFlushMs: number;
}

/** How long a store whose disk failed waits before it tries again. */
const RETRY_MS = 1000;

/**
 * Errors of the disk or the file, not of the write: the batch is kept and tried again, since
 * the same write may well succeed once space is freed or the lock is gone.
 */
const TRANSIENT =
  /^SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CANTOPEN|CORRUPT|NOMEM|PROTOCOL|NOTADB)(_|$)/;

function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && TRANSIENT.test(code);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Opens the file, checks it and sets it up. A damaged file throws StoreCorruptError, one held
 * by another process StoreLockedError, both naming the file.
 */
function openDatabase(file: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    // timeout 0: nothing else should ever hold this file, so waiting for it would only delay
    // the error below by the driver's default 5 s.
    db = new Database(file, { timeout: 0 });
    // One server per data directory: in EXCLUSIVE mode the connection takes the file lock at
    // its first read and keeps it until close, so a second server fails here instead of
    // writing beside the first. The lock is the operating system's: a killed process frees it.
    db.pragma('locking_mode = EXCLUSIVE');
    // quick_check reads every page and checks the structure (page types, cell bounds, free
    // lists); a truncated or overwritten file fails here or makes SQLite throw SQLITE_CORRUPT.
    // It does not see content changed inside a valid row: sqlite-rows.ts checks rows on read.
    const problems = (db.pragma('quick_check') as { quick_check: string }[]).map(
      (row) => row.quick_check,
    );
    if (problems.length !== 1 || problems[0] !== 'ok') {
      throw new StoreCorruptError(file, problems.slice(0, 5).join('; '));
    }
    // WAL: a write appends to the log and readers never block it; a crash mid-write leaves
    // frames whose checksums fail, which SQLite ignores on the next open.
    db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL syncs the log at checkpoints, not at every commit. A killed process
    // (SIGKILL) loses nothing committed (the log is in the OS's page cache); a power cut may
    // lose the last commits but never corrupts the file. The write-behind queue already gives
    // up the last batch interval on a kill, so FULL's fsync per commit would buy little and
    // cost a disk flush every batch.
    db.pragma('synchronous = NORMAL');
    // Take the write lock now, not at the first write, so a second server fails at start.
    db.exec('BEGIN EXCLUSIVE; COMMIT');
    migrate(db, file);
    return db;
  } catch (error) {
    db?.close();
    throw classify(file, error);
  }
}

function classify(file: string, error: unknown): unknown {
  if (error instanceof StoreError) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return error;
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) return new StoreLockedError(file, { cause: error });
  if (/^SQLITE_(CORRUPT|NOTADB)/.test(code)) {
    return new StoreCorruptError(file, asError(error).message, { cause: error });
  }
  return error;
}

/**
 * The embedded store: SQLite through better-sqlite3, behind a write-behind queue. Writes are
 * queued in memory (a map update on the serving path) and applied in one transaction per batch,
 * at most `batchIntervalMs` after the first of them, sooner when `batchSize` are waiting. The
 * queue is bounded: the write that brings it to `maxQueued` applies it synchronously, so
 * memory stays bounded and nothing accepted is dropped. Only when the disk itself fails (full,
 * I/O error) does the queue keep growing, retried every second and reported each time, because
 * dropping accepted writes would be worse than holding them.
 *
 * better-sqlite3 is synchronous: a batch runs on the event loop, between requests, never inside
 * one. Reads apply the queue first, then read.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly pending = new PendingWrites();
  private readonly batchIntervalMs: number;
  private readonly batchSize: number;
  private readonly maxQueued: number;
  private readonly sealKey: Buffer;
  private readonly onError: (error: Error) => void;
  private readonly statements: Record<
    | 'saveStream'
    | 'updateStream'
    | 'deleteStream'
    | 'deleteStreamSessions'
    | 'getStream'
    | 'listStreams'
    | 'saveSession'
    | 'listSessions'
    | 'raiseCounter'
    | 'readCounters'
    | 'saveEncoderJob'
    | 'setEncoderJobState'
    | 'deleteEncoderJob'
    | 'listEncoderJobs'
    | 'saveStreamKey'
    | 'deleteStreamKey'
    | 'listStreamKeys',
    Statement
  >;
  private readonly applyInTransaction: (ops: readonly WriteOp[]) => void;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  /** The disk failed the last flush: writes no longer flush synchronously until it recovers. */
  private failing = false;
  private closed = false;
  private reportedClosed = false;
  private counts = { flushes: 0, writesApplied: 0, failedFlushes: 0, lastFlushMs: 0 };

  constructor(
    readonly file: string,
    options: SqliteStoreOptions = {},
  ) {
    this.batchIntervalMs = options.batchIntervalMs ?? STORAGE_DEFAULTS.batchIntervalMs;
    this.batchSize = options.batchSize ?? STORAGE_DEFAULTS.batchSize;
    this.maxQueued = Math.max(options.maxQueued ?? STORAGE_DEFAULTS.maxQueued, 1);
    this.onError = options.onError ?? ((error) => process.emitWarning(error));
    this.db = openDatabase(file);
    try {
      this.sealKey = options.sealKey ?? loadOrCreateKey(path.join(path.dirname(file), 'vtp.key'));
    } catch (error) {
      this.db.close();
      throw error;
    }
    const db = this.db;
    this.statements = {
      saveStream: db.prepare(
        `INSERT OR REPLACE INTO streams (recording_id, incarnation, started_at, ended_at, settings,
           publish_key_hash, target_duration_sec, next_sequence, discontinuity_sequences)
         VALUES (@recordingId, @incarnation, @startedAt, @endedAt, @settings, @publishKeyHash,
           @targetDurationSec, @nextSequence, @discontinuitySequences)`,
      ),
      // A null parameter keeps the stored value: an update names only what changed.
      updateStream: db.prepare(
        `UPDATE streams SET
           ended_at = coalesce(@endedAt, ended_at),
           settings = coalesce(@settings, settings),
           publish_key_hash = coalesce(@publishKeyHash, publish_key_hash),
           target_duration_sec = coalesce(@targetDurationSec, target_duration_sec),
           next_sequence = coalesce(@nextSequence, next_sequence),
           discontinuity_sequences = coalesce(@discontinuitySequences, discontinuity_sequences)
         WHERE recording_id = @recordingId`,
      ),
      deleteStream: db.prepare('DELETE FROM streams WHERE recording_id = ?'),
      deleteStreamSessions: db.prepare('DELETE FROM sessions WHERE recording_id = ?'),
      getStream: db.prepare('SELECT * FROM streams WHERE recording_id = ?'),
      listStreams: db.prepare('SELECT * FROM streams ORDER BY started_at, recording_id'),
      // An update in place (not REPLACE, which deletes and reinserts the row and its index
      // entry): most writes are a known session's new counters. Positional parameters (in
      // SESSION_COLUMNS order) bind faster than named ones, and this is the busiest statement.
      saveSession: db.prepare(
        `INSERT INTO sessions (${SESSION_COLUMNS.join(', ')})
         VALUES (${SESSION_COLUMNS.map(() => '?').join(', ')})
         ON CONFLICT (session_id) DO UPDATE SET
           ${SESSION_COLUMNS.slice(1)
             .map((column) => `${column} = excluded.${column}`)
             .join(', ')}`,
      ),
      listSessions: db.prepare(
        'SELECT * FROM sessions WHERE recording_id = ? ORDER BY join_seq, joined_at, session_id',
      ),
      // max(): a counter never goes back, whatever order its values arrive in.
      raiseCounter: db.prepare(
        `INSERT INTO counters (name, value) VALUES (?, ?)
         ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)`,
      ),
      readCounters: db.prepare('SELECT name, value FROM counters'),
      saveEncoderJob: db.prepare(
        `INSERT OR REPLACE INTO encoder_jobs (job_id, recording_id, source_sealed, preset, fmp4,
           duration_sec, state, started_at)
         VALUES (@jobId, @recordingId, @sourceSealed, @preset, @fmp4, @durationSec, @state,
           @startedAt)`,
      ),
      setEncoderJobState: db.prepare('UPDATE encoder_jobs SET state = ? WHERE job_id = ?'),
      deleteEncoderJob: db.prepare('DELETE FROM encoder_jobs WHERE job_id = ?'),
      listEncoderJobs: db.prepare('SELECT * FROM encoder_jobs ORDER BY started_at, job_id'),
      saveStreamKey: db.prepare(
        'INSERT OR REPLACE INTO stream_keys (recording_id, key_sealed) VALUES (?, ?)',
      ),
      deleteStreamKey: db.prepare('DELETE FROM stream_keys WHERE recording_id = ?'),
      listStreamKeys: db.prepare('SELECT * FROM stream_keys ORDER BY recording_id'),
    };
    this.applyInTransaction = db.transaction((ops: readonly WriteOp[]) => {
      for (const op of ops) this.apply(op);
    });
  }

  saveStream(record: StreamRecord): void {
    if (this.accepting()) this.queued(this.pending.saveStream(record));
  }

  updateStream(recordingId: string, update: StreamUpdate): void {
    if (this.accepting()) this.queued(this.pending.updateStream(recordingId, update));
  }

  endStream(recordingId: string, endedAt: number): void {
    if (this.accepting()) this.queued(this.pending.updateStream(recordingId, { endedAt }));
  }

  deleteStream(recordingId: string): void {
    if (this.accepting()) this.queued(this.pending.deleteStream(recordingId));
  }

  getStream(recordingId: string): StreamRecord | undefined {
    this.flush();
    const rows = this.statements.getStream.all(recordingId) as Record<string, unknown>[];
    return this.readRows(rows, 'stream', streamFromRow)[0];
  }

  listStreams(): StreamRecord[] {
    this.flush();
    const rows = this.statements.listStreams.all() as Record<string, unknown>[];
    return this.readRows(rows, 'stream', streamFromRow);
  }

  saveSession(sessionId: string, snapshot: () => SessionRecord): void {
    if (this.accepting()) this.queued(this.pending.saveSession(sessionId, snapshot));
  }

  listSessions(recordingId: string): SessionRecord[] {
    this.flush();
    const rows = this.statements.listSessions.all(recordingId) as Record<string, unknown>[];
    return this.readRows(rows, 'session', sessionFromRow);
  }

  raiseCounter(name: string, value: number): void {
    if (this.accepting()) this.queued(this.pending.raiseCounter(name, value));
  }

  readCounters(): Record<string, number> {
    this.flush();
    const counters: Record<string, number> = {};
    for (const row of this.statements.readCounters.all() as { name: string; value: number }[])
      counters[row.name] = row.value;
    return counters;
  }

  saveEncoderJob(record: EncoderJobRecord): void {
    if (this.accepting()) this.queued(this.pending.saveEncoderJob(record));
  }

  setEncoderJobState(jobId: string, state: EncoderState): void {
    if (this.accepting()) this.queued(this.pending.setEncoderJobState(jobId, state));
  }

  deleteEncoderJob(jobId: string): void {
    if (this.accepting()) this.queued(this.pending.deleteEncoderJob(jobId));
  }

  listEncoderJobs(): StoredEncoderJob[] {
    this.flush();
    const rows = this.statements.listEncoderJobs.all() as Record<string, unknown>[];
    return this.readRows(rows, 'encoder job', (row) =>
      encoderJobFromRow(row, (sealed) => this.openSource(sealed)),
    );
  }

  saveStreamKey(recordingId: string, key: string): void {
    if (this.accepting()) this.queued(this.pending.saveStreamKey(recordingId, key));
  }

  deleteStreamKey(recordingId: string): void {
    if (this.accepting()) this.queued(this.pending.deleteStreamKey(recordingId));
  }

  listStreamKeys(): StoredStreamKey[] {
    this.flush();
    const rows = this.statements.listStreamKeys.all() as Record<string, unknown>[];
    return this.readRows(rows, 'stream key', (row) =>
      streamKeyFromRow(row, (recordingId, sealed) => this.openKey(recordingId, sealed)),
    );
  }

  stats(): SqliteStoreStats {
    return { queued: this.pending.size, ...this.counts };
  }

  /**
   * Applies every queued write in one transaction. A write that cannot be stored (a snapshot
   * that throws, a value of the wrong type) is reported and dropped without taking the rest of
   * the batch with it; a failing disk keeps the batch queued for a retry.
   */
  flush(): void {
    this.clearTimers();
    if (this.closed || this.pending.size === 0) return;
    const ops = this.pending.take();
    const started = performance.now();
    try {
      this.applyInTransaction(ops);
      this.applied(ops.reduce((sum, op) => sum + writesIn(op), 0));
    } catch (error) {
      if (isTransient(error)) this.keepForRetry(ops, error);
      else this.applyOneByOne(ops);
    }
    this.counts.lastFlushMs = performance.now() - started;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    if (this.pending.size > 0) {
      this.onError(
        new Error(
          `closing state database ${this.file} with ${this.pending.size} writes it could not apply`,
        ),
      );
    }
    this.clearTimers();
    this.closed = true;
    this.db.close();
  }

  private accepting(): boolean {
    if (!this.closed) return true;
    if (!this.reportedClosed) {
      this.reportedClosed = true;
      this.onError(new Error(`a write reached state database ${this.file} after it was closed`));
    }
    return false;
  }

  /** Arranges for the queue to be applied: later, soon, or now when it is full. */
  private queued(grew: boolean): void {
    if (!grew) return;
    const size = this.pending.size;
    if (size >= this.maxQueued && !this.failing) {
      this.flush();
    } else if (size >= this.batchSize && !this.failing) {
      this.immediate ??= setImmediate(() => {
        this.immediate = undefined;
        this.flush();
      }).unref();
    } else {
      this.arm(this.failing ? RETRY_MS : this.batchIntervalMs);
    }
  }

  /** Unref'd: a queued write never keeps the process alive (close() applies it at shutdown). */
  private arm(delayMs: number): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, delayMs).unref();
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  private applied(writes: number): void {
    this.failing = false;
    this.counts.flushes++;
    this.counts.writesApplied += writes;
  }

  private keepForRetry(ops: readonly WriteOp[], error: unknown): void {
    this.pending.putBack(ops);
    this.failing = true;
    this.counts.failedFlushes++;
    this.onError(
      new Error(
        `could not write state database ${this.file} (${this.pending.size} writes kept, retrying): ${asError(error).message}`,
        { cause: error },
      ),
    );
    this.arm(RETRY_MS);
  }

  private applyOneByOne(batch: readonly WriteOp[]): void {
    // Sessions one by one too, so one bad snapshot costs only its own write.
    const ops = batch.flatMap((op): WriteOp[] =>
      op.kind === 'saveSessions'
        ? [...op.sessions].map(([id, snapshot]) => ({
            kind: 'saveSessions',
            sessions: new Map([[id, snapshot]]),
          }))
        : [op],
    );
    let applied = 0;
    for (const [i, op] of ops.entries()) {
      try {
        this.applyInTransaction([op]);
        applied++;
      } catch (error) {
        if (isTransient(error)) {
          this.applied(applied);
          this.keepForRetry(ops.slice(i), error);
          return;
        }
        const what = op.kind === 'saveSessions' ? `session ${[...op.sessions.keys()][0]}` : op.kind;
        this.onError(
          new Error(`dropped a write (${what}) that cannot be stored: ${asError(error).message}`, {
            cause: error,
          }),
        );
      }
    }
    this.applied(applied);
  }

  private apply(op: WriteOp): void {
    const s = this.statements;
    switch (op.kind) {
      case 'saveStream':
        s.saveStream.run(streamParams(op.record));
        return;
      case 'updateStream':
        s.updateStream.run(streamUpdateParams(op.recordingId, op.update));
        return;
      case 'deleteStream':
        s.deleteStream.run(op.recordingId);
        s.deleteStreamSessions.run(op.recordingId);
        return;
      case 'saveSessions':
        for (const [sessionId, snapshot] of op.sessions)
          s.saveSession.run(sessionParams(sessionId, snapshot()));
        return;
      case 'raiseCounter':
        s.raiseCounter.run(op.name, op.value);
        return;
      case 'saveEncoderJob':
        s.saveEncoderJob.run(
          encoderJobParams(op.record, seal(this.sealKey, JSON.stringify(op.record.source))),
        );
        return;
      case 'setEncoderJobState':
        s.setEncoderJobState.run(op.state, op.jobId);
        return;
      case 'deleteEncoderJob':
        s.deleteEncoderJob.run(op.jobId);
        return;
      case 'saveStreamKey':
        s.saveStreamKey.run(op.recordingId, seal(this.sealKey, op.key));
        return;
      case 'deleteStreamKey':
        s.deleteStreamKey.run(op.recordingId);
        return;
    }
  }

  private openSource(sealed: string): EncoderSource | undefined {
    const text = unseal(this.sealKey, sealed);
    if (text === undefined) {
      this.onError(
        new Error(`an encoder source in ${this.file} cannot be unsealed (vtp.key changed?)`),
      );
      return undefined;
    }
    return JSON.parse(text) as EncoderSource;
  }

  /** The report names the stream, never the key or its sealed form. */
  private openKey(recordingId: string, sealed: string): string | undefined {
    const key = unseal(this.sealKey, sealed);
    if (key === undefined) {
      this.onError(
        new Error(
          `the stream key of ${recordingId} in ${this.file} cannot be unsealed (vtp.key changed?)`,
        ),
      );
    }
    return key;
  }

  /** Rows that read back as records; a damaged one is reported and skipped. */
  private readRows<T>(
    rows: readonly Record<string, unknown>[],
    what: string,
    read: (row: Record<string, unknown>) => T,
  ): T[] {
    const records: T[] = [];
    for (const row of rows) {
      try {
        records.push(read(row));
      } catch (error) {
        if (!(error instanceof RowError)) throw error;
        this.onError(new Error(`skipped a damaged ${what} row in ${this.file}: ${error.message}`));
      }
    }
    return records;
  }
}

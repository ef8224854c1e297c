import { DistributionError } from '../core/errors.js';

/** What ingest holds now, per stream and in total (published windows, waiting files, inits). */
export interface HeldBytes {
  stream(recordingId: string): number;
  total(): number;
}

export interface BudgetLimits {
  /** Most bytes ingest may hold for one stream. */
  readonly streamBytes: number;
  /** Most bytes ingest may hold for all streams together. */
  readonly totalBytes: number;
}

const MiB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

/** One stream would hold more than its share: the pusher's doing, so a 413. */
export class StreamBudgetError extends DistributionError {
  constructor(recordingId: string, held: number, more: number, limit: number) {
    super(
      'STREAM_BUDGET_EXCEEDED',
      `stream '${recordingId}' holds ${mib(held)} of pushed media; ${mib(more)} more would pass its budget of ${mib(limit)}`,
      'file',
    );
  }
}

/** The server as a whole is full: no pusher's fault, so a 503 to retry once segments expire. */
export class IngestBudgetError extends DistributionError {
  constructor(limit: number) {
    super(
      'INGEST_BUDGET_EXCEEDED',
      `the server holds its whole ingest budget of ${mib(limit)}; retry once older segments expire`,
      'file',
    );
  }
}

/** Reservations grow in steps of this much, so a chunked body costs a check per step, not per chunk. */
const RESERVE_STEP = MiB;

/**
 * Bounds the bytes ingest holds, per stream and server-wide. Bodies still arriving count too
 * (as reservations), so concurrent uploads cannot together pass a budget each one fits alone.
 * A check costs O(streams): what is held is summed afresh, as windows shrink on their own.
 */
export class IngestBudget {
  private readonly arriving = new Map<string, number>();
  private arrivingTotal = 0;

  constructor(
    readonly limits: BudgetLimits,
    private readonly held: HeldBytes,
  ) {}

  /** Bytes of bodies still arriving (reserved), for one stream or all. */
  arrivingBytes(recordingId?: string): number {
    return recordingId === undefined ? this.arrivingTotal : (this.arriving.get(recordingId) ?? 0);
  }

  /** Throws StreamBudgetError or IngestBudgetError unless `more` bytes for the stream fit. */
  check(recordingId: string, more: number): void {
    const stream = this.held.stream(recordingId) + this.arrivingBytes(recordingId);
    if (stream + more > this.limits.streamBytes) {
      throw new StreamBudgetError(recordingId, stream, more, this.limits.streamBytes);
    }
    if (this.held.total() + this.arrivingTotal + more > this.limits.totalBytes) {
      throw new IngestBudgetError(this.limits.totalBytes);
    }
  }

  /**
   * Sets bytes aside for a body about to arrive: `declared` (its Content-Length, or 0) now,
   * more as it grows, never past `cap` (the body's size limit). Throws when they do not fit.
   */
  reserve(recordingId: string, declared: number, cap: number): BodyReservation {
    const reservation = new BodyReservation(this, recordingId, cap);
    reservation.grow(declared);
    return reservation;
  }

  /** @internal Moves `bytes` (negative to give back) into the stream's arriving count. */
  adjust(recordingId: string, bytes: number): void {
    const next = (this.arriving.get(recordingId) ?? 0) + bytes;
    if (next > 0) this.arriving.set(recordingId, next);
    else this.arriving.delete(recordingId);
    this.arrivingTotal += bytes;
  }
}

/** Bytes set aside for one body while it arrives; release it once the body is kept or dropped. */
export class BodyReservation {
  private reserved = 0;

  constructor(
    private readonly budget: IngestBudget,
    private readonly recordingId: string,
    private readonly cap: number,
  ) {}

  /** Makes sure `total` bytes are set aside; throws a budget error when they do not fit. */
  grow(total: number): void {
    if (total <= this.reserved) return;
    const stepped = Math.min(Math.max(total, this.reserved + RESERVE_STEP), this.cap);
    try {
      this.take(Math.max(stepped, total) - this.reserved);
    } catch (error) {
      if (stepped <= total) throw error;
      this.take(total - this.reserved); // the step did not fit; exactly what arrived may
    }
  }

  /** Gives back everything set aside (idempotent). */
  release(): void {
    if (this.reserved === 0) return;
    this.budget.adjust(this.recordingId, -this.reserved);
    this.reserved = 0;
  }

  private take(bytes: number): void {
    this.budget.check(this.recordingId, bytes);
    this.budget.adjust(this.recordingId, bytes);
    this.reserved += bytes;
  }
}

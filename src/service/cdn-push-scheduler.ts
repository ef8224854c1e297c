import { PushBacklog } from './cdn-push-backlog.js';
import type { CdnPushTargetStatus } from './cdn-push-metrics.js';
import type { PushKind } from './cdn-push-plan.js';
import type { PushSlots } from './cdn-push-slots.js';
import type { PushTarget } from './cdn-push-target.js';
import type { DeliveryTask } from './delivery-pool.js';
import { redactSecrets } from './redact.js';
import { QueueFullError, ShuttingDownError } from './service-errors.js';

/** Where pushes run: the service's delivery pool (DistributionService.submitDelivery). */
export interface DeliverySubmitter {
  /** Queues a task or throws QueueFullError / ShuttingDownError. */
  submitDelivery(task: DeliveryTask): void;
  /** The pool's workers: pushes leave at least one of them to viewers' deliveries. */
  readonly deliveryWorkers: number;
}

/** How a push ended: taken, nothing left to send, given up, or dropped from the backlog. */
export type PushOutcome = 'pushed' | 'skipped' | 'failed' | 'dropped';

/** One push to one target. */
export interface PushJob {
  /** Names the object (and kind): a job of the same key is not queued twice. */
  readonly key: string;
  readonly kind: PushKind;
  readonly priority: number;
  readonly retries: number;
  readonly timeoutMs: number;
  /**
   * One attempt: resolves the bytes it sent (0 for a removal), or undefined when there was
   * nothing left to send (the segment expired meanwhile); throws to be retried.
   */
  attempt(signal: AbortSignal): Promise<number | undefined>;
  /** Called once when the job is over. */
  done(outcome: PushOutcome): void;
}

export interface SchedulerOptions {
  /** Jobs that may wait per target. */
  readonly maxBacklog: number;
  /** Jobs a target may have in the delivery pool at once while it is up (1 while it is down). */
  readonly maxInFlight: number;
  /** The pool places every target's pushes share (each job in the pool holds one). */
  readonly slots: PushSlots;
  /** Pause after a push gave up, or the pool was full, before the next try. */
  readonly retryPauseMs: number;
  /** The service clock, for the last success time. */
  readonly clock: () => number;
}

let taskIds = 0;

/**
 * The pushes of one target: a bounded backlog fed into the delivery pool a few at a time, each
 * holding one of the places all targets share (PushSlots). After an upload gives up the target
 * counts as down, and one push at a time probes it, a pause apart, until one succeeds;
 * `onUpChange` tells the pusher both turns (back up, it plans the catch-up). Once stopped (at
 * shutdown) what the pool still settles counts nothing: abandoned work says nothing of a target.
 */
export class TargetScheduler {
  private readonly backlog: PushBacklog<PushJob>;
  private readonly inFlight = new Map<string, PushJob>();
  private up = true;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly counts = {
    segmentsPushed: 0,
    playlistsPushed: 0,
    bytesPushed: 0,
    deleted: 0,
    failedAttempts: 0,
    failures: 0,
    dropped: 0,
    deletesGivenUp: 0,
  };
  private lastError: string | undefined;
  private lastSuccessAt: number | undefined;
  private readonly wake = () => this.pump();

  constructor(
    readonly target: PushTarget,
    private readonly submitter: DeliverySubmitter,
    private readonly options: SchedulerOptions,
    private readonly onUpChange: (up: boolean) => void,
  ) {
    this.backlog = new PushBacklog(options.maxBacklog);
  }

  get isUp(): boolean {
    return this.up;
  }

  /** Counts a removal given up: the object stays at the target (nothing counts once stopped). */
  giveUpDelete(): void {
    if (!this.stopped) this.counts.deletesGivenUp++;
  }

  /** True while a job of this key waits or runs. */
  has(key: string): boolean {
    return this.backlog.has(key) || this.inFlight.has(key);
  }

  /**
   * Queues a job unless one of its key runs; true when it waits (this one or one of its key).
   * New work takes the oldest waiting job's place when the backlog is full (counted dropped);
   * catch-up takes room only below half the bound, so it never crowds new work out.
   */
  enqueue(job: PushJob, mode: 'new' | 'catch-up' = 'new'): boolean {
    if (this.stopped || this.inFlight.has(job.key)) return false;
    if (this.backlog.has(job.key)) return true;
    if (mode === 'catch-up' && this.backlog.size >= this.backlog.capacity / 2) return false;
    const { added, dropped } = this.backlog.add(job, mode === 'new');
    if (dropped) {
      this.counts.dropped++;
      dropped.done('dropped');
    }
    if (added) this.pump();
    return added;
  }

  /** Stops taking and submitting work; jobs in the pool finish there. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.options.slots.forget(this.wake);
    for (const job of this.backlog.clear()) job.done('dropped');
  }

  status(): CdnPushTargetStatus {
    return {
      target: this.target.label,
      up: this.up,
      ...this.counts,
      backlog: this.backlog.size,
      inFlight: this.inFlight.size,
      lastError: this.lastError,
      lastSuccessAt: this.lastSuccessAt,
    };
  }

  private pump(): void {
    const limit = this.up ? this.options.maxInFlight : 1;
    while (!this.stopped && this.timer === undefined && this.inFlight.size < limit) {
      const job = this.backlog.next();
      if (!job) return;
      // Every target's pushes together leave a worker to viewers: wait for a place to free.
      if (!this.options.slots.take()) {
        this.options.slots.waitFor(this.wake);
        return;
      }
      try {
        this.submit(job);
      } catch (error) {
        this.options.slots.release();
        // A pool full of other work: the job keeps its place and tries again after a pause.
        if (error instanceof QueueFullError) this.pause();
        else if (error instanceof ShuttingDownError) this.stop();
        else throw error;
        return;
      }
      this.backlog.delete(job.key);
    }
  }

  private submit(job: PushJob): void {
    let sent: number | undefined;
    this.submitter.submitDelivery({
      id: `cdn-push-${++taskIds}`,
      priority: job.priority,
      retries: job.retries,
      timeoutMs: job.timeoutMs,
      keepStatus: false,
      run: async (signal) => {
        sent = await job.attempt(signal);
      },
      onAttemptFailed: (error) => {
        if (this.stopped) return;
        this.counts.failedAttempts++;
        const message = error instanceof Error ? error.message : String(error);
        this.lastError = redactSecrets(message, this.target.secrets);
      },
      onSettled: (status) => {
        this.inFlight.delete(job.key);
        this.options.slots.release(this.wake);
        // Stopped: the pool finishes or abandons what it holds at shutdown; none of it counts.
        if (this.stopped) {
          job.done('dropped');
          return;
        }
        if (status.state === 'delivered') this.succeeded(job, sent);
        else this.failed(job);
        this.pump();
      },
    });
    this.inFlight.set(job.key, job);
  }

  private succeeded(job: PushJob, sent: number | undefined): void {
    if (sent === undefined) {
      job.done('skipped');
      return;
    }
    if (job.kind === 'segment' || job.kind === 'init') this.counts.segmentsPushed++;
    else if (job.kind === 'delete') this.counts.deleted++;
    else this.counts.playlistsPushed++;
    this.counts.bytesPushed += sent;
    this.lastSuccessAt = this.options.clock();
    job.done('pushed');
    if (!this.up) {
      this.up = true;
      this.onUpChange(true);
    }
  }

  private failed(job: PushJob): void {
    this.counts.failures++;
    job.done('failed');
    // A removal is best effort (and some targets refuse them): it says nothing of uploads.
    if (job.kind === 'delete') return;
    if (this.up) {
      this.up = false;
      this.onUpChange(false);
    }
    this.pause();
  }

  /** Submits nothing for `retryPauseMs` (the timer is the pause). */
  private pause(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, this.options.retryPauseMs);
    this.timer.unref();
  }
}

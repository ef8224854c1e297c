import PQueue from 'p-queue';
import pRetry from 'p-retry';
import pTimeout from 'p-timeout';
import { OutcomeWindow } from './outcome-window.js';
import { QueueFullError, ShuttingDownError } from './service-errors.js';

/** One unit of delivery work. `run` is a single attempt; the pool retries it. */
export interface DeliveryTask {
  readonly id: string;
  /** Higher runs first; equal priorities run in submission order. */
  readonly priority: number;
  /** Retries after the first failed attempt. */
  readonly retries: number;
  /** Deadline of one attempt. */
  readonly timeoutMs: number;
  run(signal: AbortSignal): Promise<void>;
  /** Called after every failed attempt (the last one included), with its 1-based number. */
  readonly onAttemptFailed?: (error: unknown, attempt: number) => void;
  /** Called once with the final status: delivered, or failed (given up, or abandoned at shutdown). */
  readonly onSettled?: (status: DeliveryStatus) => void;
  /**
   * False keeps no status for lookup by id: for work whose submitter follows it through the hooks
   * (CDN pushes), so it does not crowd viewers' deliveries out of the bounded status history.
   */
  readonly keepStatus?: boolean;
}

export type DeliveryState = 'queued' | 'running' | 'delivered' | 'failed';

export interface DeliveryStatus {
  readonly id: string;
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly error?: string;
}

export interface BackoffOptions {
  readonly minMs: number;
  readonly maxMs: number;
  readonly factor: number;
}

export interface DeliveryPoolOptions {
  readonly workers: number;
  readonly queueCapacity: number;
  readonly backoff: BackoffOptions;
  /** Errors that no retry can fix (the segment expired, the viewer left). */
  readonly isPermanent?: (error: unknown) => boolean;
  /** How many finished tasks keep a status for lookup. */
  readonly statusHistory?: number;
}

export interface DeliveryPoolStats {
  readonly workers: number;
  readonly queueCapacity: number;
  readonly queued: number;
  readonly running: number;
  readonly delivered: number;
  readonly failed: number;
  /** Every attempt that threw or timed out, including ones a retry later fixed. */
  readonly failedAttempts: number;
  /** Share of failed attempts among the last 100 attempts. */
  readonly recentFailureRate: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 100, maxMs: 2000, factor: 2 };

/**
 * A bounded priority queue served by a fixed number of workers, with per-task retries,
 * exponential backoff and a per-attempt timeout. p-queue supplies ordering and concurrency,
 * p-retry the backoff and p-timeout the deadlines; this class adds the bound and the counts.
 */
export class DeliveryPool {
  private readonly queue: PQueue;
  private readonly statuses = new Map<string, DeliveryStatus>();
  private readonly running = new Set<AbortController>();
  /** Tasks accepted and not yet started, so a shutdown can settle the ones it abandons. */
  private readonly waiting = new Set<DeliveryTask>();
  private accepting = true;
  private delivered = 0;
  private failed = 0;
  private failedAttempts = 0;
  private readonly recent = new OutcomeWindow(100);

  constructor(private readonly options: DeliveryPoolOptions) {
    this.queue = new PQueue({ concurrency: options.workers });
  }

  /** Queues a task or throws QueueFullError / ShuttingDownError; never drops silently. */
  submit(task: DeliveryTask): void {
    if (!this.accepting) throw new ShuttingDownError();
    if (this.queue.size >= this.options.queueCapacity) {
      throw new QueueFullError(this.options.queueCapacity);
    }
    this.setStatus(task, { id: task.id, state: 'queued', attempts: 0 });
    this.waiting.add(task);
    this.queue
      .add(() => this.execute(task), { priority: task.priority })
      .catch(() => {
        // execute() records every outcome; nothing is left to handle here.
      });
  }

  status(id: string): DeliveryStatus | undefined {
    return this.statuses.get(id);
  }

  stats(): DeliveryPoolStats {
    return {
      workers: this.options.workers,
      queueCapacity: this.options.queueCapacity,
      queued: this.queue.size,
      running: this.queue.pending,
      delivered: this.delivered,
      failed: this.failed,
      failedAttempts: this.failedAttempts,
      recentFailureRate: this.recent.failureRate(),
    };
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  /**
   * Stops taking work and waits for queued and running tasks to finish. Past the deadline the
   * rest is abandoned (queued tasks cleared, running ones aborted). Resolves true if it drained.
   */
  async drain(deadlineMs: number): Promise<boolean> {
    this.accepting = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), deadlineMs);
    });
    const drained = await Promise.race([this.queue.onIdle().then(() => true as const), deadline]);
    clearTimeout(timer);
    if (!drained) {
      this.queue.clear();
      for (const task of this.waiting) {
        this.failed++;
        this.settle(task, {
          id: task.id,
          state: 'failed',
          attempts: 0,
          error: 'abandoned at shutdown',
        });
      }
      this.waiting.clear();
      for (const controller of this.running) controller.abort(new ShuttingDownError());
    }
    return drained;
  }

  private async execute(task: DeliveryTask): Promise<void> {
    this.waiting.delete(task);
    let attempts = 0;
    const controller = new AbortController();
    this.running.add(controller);
    try {
      await pRetry(
        async () => {
          attempts++;
          this.setStatus(task, { id: task.id, state: 'running', attempts });
          // Each attempt gets its own signal so a timed-out attempt stops without ending the task.
          const attempt = new AbortController();
          try {
            await pTimeout(task.run(AbortSignal.any([controller.signal, attempt.signal])), {
              milliseconds: task.timeoutMs,
              message: `delivery attempt timed out after ${task.timeoutMs} ms`,
            });
          } catch (error) {
            attempt.abort(error);
            throw error;
          }
        },
        {
          retries: task.retries,
          minTimeout: this.options.backoff.minMs,
          maxTimeout: this.options.backoff.maxMs,
          factor: this.options.backoff.factor,
          signal: controller.signal,
          onFailedAttempt: ({ error, attemptNumber }) => {
            this.failedAttempts++;
            this.recent.record(true);
            guarded(() => task.onAttemptFailed?.(error, attemptNumber));
          },
          shouldRetry: ({ error }) => !this.options.isPermanent?.(error),
        },
      );
      this.recent.record(false);
      this.delivered++;
      this.settle(task, { id: task.id, state: 'delivered', attempts });
    } catch (error) {
      this.failed++;
      this.settle(task, {
        id: task.id,
        state: 'failed',
        attempts,
        error: String(error instanceof Error ? error.message : error),
      });
    } finally {
      this.running.delete(controller);
    }
  }

  /** Records the final status and tells the task's submitter. */
  private settle(task: DeliveryTask, status: DeliveryStatus): void {
    this.setStatus(task, status);
    guarded(() => task.onSettled?.(status));
  }

  private setStatus(task: DeliveryTask, status: DeliveryStatus): void {
    if (task.keepStatus === false) return;
    // Re-inserting keeps the Map in recency order, so the oldest entry is the first key.
    this.statuses.delete(status.id);
    this.statuses.set(status.id, status);
    const limit = this.options.statusHistory ?? 10_000;
    if (this.statuses.size > limit) {
      const oldest = this.statuses.keys().next().value;
      if (oldest !== undefined) this.statuses.delete(oldest);
    }
  }
}

/** Runs a submitter's hook: its error must not end the task's bookkeeping or reach a worker. */
function guarded(hook: () => void): void {
  try {
    hook();
  } catch {
    // The hook's owner reports its own errors; the pool's counts stay right regardless.
  }
}

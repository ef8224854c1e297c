import { setTimeout as sleep } from 'node:timers/promises';
import Denque from 'denque';
import pRetry from 'p-retry';
import { randomIdGenerator } from './random-ids.js';
import { redactSecrets } from './redact.js';
import type { StreamEvents } from './stream-events.js';
import {
  forwardStreamEvents,
  type WebhookEvent,
  type WebhookEventInput,
  webhookBody,
} from './webhook-payloads.js';
import { signWebhookBody } from './webhook-signature.js';

/** Delivery settings of webhooks; the two public settings (URL, secret) have no default. */
export const WEBHOOK_DEFAULTS = {
  /** Deadline of one POST. */
  timeoutMs: 5000,
  /** Retries after the first attempt: with the delays below, 5 to 6 minutes in all. */
  retries: 10,
  minDelayMs: 1000,
  maxDelayMs: 60_000,
  factor: 2,
  /** The longest `Retry-After` obeyed; a longer one is cut to this. */
  maxRetryAfterMs: 300_000,
  /** Events waiting beyond this drop the oldest, so a dead receiver never grows memory. */
  queueCapacity: 10_000,
  /** Streams whose events are posted at once (one stream's events go one at a time, in order). */
  concurrency: 4,
} as const;

/** One POST as the transport sees it. */
export interface WebhookRequest {
  readonly url: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
}

/** Sends one request and answers its status and `Retry-After`; throws on network errors. */
export type WebhookTransport = (
  request: WebhookRequest,
) => Promise<{ status: number; retryAfter: string | null }>;

/** The two log levels the sender uses (a pino logger fits). */
export interface WebhookLogger {
  warn(detail: object, message: string): void;
  info(detail: object, message: string): void;
}

export interface WebhookOptions {
  readonly url: string;
  readonly secret: string;
  readonly timeoutMs?: number;
  readonly retries?: number;
  readonly minDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly factor?: number;
  readonly maxRetryAfterMs?: number;
  readonly queueCapacity?: number;
  readonly concurrency?: number;
  readonly logger?: WebhookLogger | undefined;
  readonly transport?: WebhookTransport;
  /** Clock of `sent_at` (ms). */
  readonly now?: () => number;
}

/** Counts for metrics: events delivered, given up, dropped from a full queue, and waiting. */
export interface WebhookStats {
  readonly delivered: number;
  /** Refused by the receiver (4xx), out of retries, or abandoned at shutdown. */
  readonly failed: number;
  /** Pushed out of the full queue by newer events, or arriving after shutdown. */
  readonly dropped: number;
  /** Waiting to be sent. */
  readonly queued: number;
  readonly inFlight: number;
  /** Every attempt that failed, including ones a retry later fixed. */
  readonly failedAttempts: number;
}

/** HTTP POST with fetch; redirects are not followed (the signed body must reach the URL given). */
export const fetchTransport: WebhookTransport = async ({ url, body, headers, signal }) => {
  const response = await fetch(url, { method: 'POST', body, headers, signal, redirect: 'manual' });
  await response.body?.cancel();
  return { status: response.status, retryAfter: response.headers.get('retry-after') };
};

/** Why one attempt failed, and whether another can help. */
class AttemptError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

interface Pending {
  readonly event: WebhookEvent;
  readonly key: string;
  /** Arrival order across streams, to find the oldest event of all. */
  readonly seq: number;
}

/**
 * Posts stream and viewer events to a learning platform: signed, retried with exponential
 * backoff and jitter (p-retry), from a bounded queue that drops its oldest event when full.
 * Publishing an event only queues it, so a slow or dead receiver never slows serving.
 */
export class WebhookSender {
  /**
   * Waiting events per stream, oldest first; a stream with an event in flight waits its turn.
   * Deques, because taking the head of 10,000 must not copy the rest as Array.shift does.
   */
  private readonly perStream = new Map<string, Denque<Pending>>();
  private waiting = 0;
  private seq = 0;
  private readonly busy = new Set<string>();
  private readonly idleWaiters: Array<() => void> = [];
  private readonly stop = new AbortController();
  private readonly newId = randomIdGenerator('evt-');
  private readonly settings: Required<Omit<WebhookOptions, 'logger'>>;
  private readonly logger: WebhookLogger | undefined;
  private closed = false;
  private counts = { delivered: 0, failed: 0, dropped: 0, failedAttempts: 0 };
  /** The failure streak under way: logged once when it starts and once when it ends. */
  private streak: { attempts: number; failed: number } | undefined;
  private dropping = false;
  private pumpScheduled = false;

  constructor(options: WebhookOptions) {
    const { logger, ...rest } = options;
    this.logger = logger;
    this.settings = {
      ...WEBHOOK_DEFAULTS,
      transport: fetchTransport,
      now: Date.now,
      ...definedOnly(rest),
    } as Required<Omit<WebhookOptions, 'logger'>>;
  }

  /** Posts every stream and viewer event of `events`; returns a function that stops it. */
  attach(events: StreamEvents): () => void {
    return forwardStreamEvents(events, (event) => this.enqueue(event));
  }

  /** Queues an event (never waits); a full queue drops its oldest. Returns the event's id. */
  enqueue(input: WebhookEventInput): string {
    const event: WebhookEvent = { ...input, id: this.newId() };
    if (this.closed) {
      this.counts.dropped++;
      return event.id;
    }
    if (this.waiting >= this.settings.queueCapacity) this.dropOldest();
    const pending = { event, key: input.recordingId, seq: this.seq++ };
    const queue = this.perStream.get(pending.key);
    if (queue) queue.push(pending);
    else this.perStream.set(pending.key, new Denque([pending]));
    this.waiting++;
    // Posting starts on a later turn of the event loop, outside the request that made the event.
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
    return event.id;
  }

  stats(): WebhookStats {
    return {
      ...this.counts,
      queued: this.waiting,
      inFlight: this.busy.size,
    };
  }

  /**
   * Sends what is queued within `deadlineMs`, then abandons the rest (counted as failed) and
   * takes no more events. Resolves true when everything queued was sent or given up in time.
   */
  async flush(deadlineMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), deadlineMs);
    });
    const idle = new Promise<true>((resolve) => {
      if (this.isIdle()) resolve(true);
      else this.idleWaiters.push(() => resolve(true));
    });
    const flushed = await Promise.race([idle, deadline]);
    clearTimeout(timer);
    this.closed = true;
    if (!flushed) {
      const abandoned = this.waiting + this.busy.size;
      this.counts.failed += this.waiting;
      this.waiting = 0;
      this.perStream.clear();
      // In-flight deliveries end as failed when their attempt or backoff wait is aborted.
      this.stop.abort(new Error('abandoned at shutdown'));
      this.logger?.warn(
        { url: this.safeUrl(), abandoned },
        'webhook events abandoned at shutdown: the receiver did not take them in time',
      );
    }
    return flushed;
  }

  private dropOldest(): void {
    // The oldest event of all heads its stream's queue: compare the heads (one per stream).
    let oldest: { key: string; seq: number } | undefined;
    for (const [key, queue] of this.perStream) {
      const head = queue.peekFront();
      if (head && (!oldest || head.seq < oldest.seq)) oldest = { key, seq: head.seq };
    }
    if (!oldest) return;
    const queue = this.perStream.get(oldest.key);
    queue?.shift();
    if (queue?.isEmpty()) this.perStream.delete(oldest.key);
    this.waiting--;
    this.counts.dropped++;
    if (!this.dropping) {
      this.dropping = true;
      this.logger?.warn(
        { url: this.safeUrl(), queue_capacity: this.settings.queueCapacity },
        'webhook queue full: dropping the oldest events until the receiver catches up',
      );
    }
  }

  private pump(): void {
    for (const [key, queue] of this.perStream) {
      if (this.busy.size >= this.settings.concurrency) return;
      if (this.busy.has(key)) continue;
      const next = queue.shift();
      if (queue.isEmpty()) this.perStream.delete(key);
      if (!next) continue;
      this.waiting--;
      this.busy.add(key);
      void this.send(next).finally(() => {
        this.busy.delete(key);
        if (this.dropping && this.waiting <= this.settings.queueCapacity / 2) {
          this.dropping = false;
        }
        this.pump();
        if (this.isIdle()) for (const wake of this.idleWaiters.splice(0)) wake();
      });
    }
  }

  private isIdle(): boolean {
    return this.waiting === 0 && this.busy.size === 0;
  }

  /** Delivers one event with retries; records the outcome, never throws. */
  private async send({ event }: Pending): Promise<void> {
    const s = this.settings;
    try {
      await pRetry(() => this.attempt(event), {
        retries: s.retries,
        minTimeout: s.minDelayMs,
        maxTimeout: s.maxDelayMs,
        factor: s.factor,
        randomize: true,
        unref: true,
        signal: this.stop.signal,
        onFailedAttempt: async ({ error, retriesLeft }) => {
          this.counts.failedAttempts++;
          const failure = error as AttemptError;
          this.noteFailure(event, failure, failure.retryable && retriesLeft > 0);
          // p-retry's own backoff follows this wait, so the receiver gets at least what it asked.
          if (failure.retryable && retriesLeft > 0 && failure.retryAfterMs) {
            await sleep(Math.min(failure.retryAfterMs, s.maxRetryAfterMs), undefined, {
              signal: this.stop.signal,
              ref: false,
            });
          }
        },
        shouldRetry: ({ error }) => (error as AttemptError).retryable,
      });
      this.counts.delivered++;
      this.recovered();
    } catch {
      this.counts.failed++;
      if (this.streak) this.streak.failed++;
    }
  }

  private async attempt(event: WebhookEvent): Promise<void> {
    const s = this.settings;
    const body = webhookBody(event, s.now());
    // One controller per attempt, ended by its deadline or by shutdown; its listener and timer
    // go with it (AbortSignal.any would tie every attempt to the long-lived shutdown signal).
    const attempt = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      attempt.abort(new Error(`no answer within ${s.timeoutMs} ms`));
    }, s.timeoutMs);
    const onStop = () => attempt.abort(this.stop.signal.reason);
    this.stop.signal.addEventListener('abort', onStop, { once: true });
    let answer: { status: number; retryAfter: string | null };
    try {
      answer = await s.transport({
        url: s.url,
        body,
        signal: attempt.signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'vtp-live-webhooks',
          'x-vtp-event': event.type,
          'x-vtp-delivery': event.id,
          'x-vtp-signature': signWebhookBody(body, s.secret),
        },
      });
    } catch (error) {
      throw new AttemptError(
        timedOut ? `no answer within ${s.timeoutMs} ms` : describeNetworkError(error),
        !this.stop.signal.aborted,
      );
    } finally {
      clearTimeout(timer);
      this.stop.signal.removeEventListener('abort', onStop);
    }
    if (answer.status >= 200 && answer.status < 300) return;
    const retryable = answer.status === 408 || answer.status === 429 || answer.status >= 500;
    throw new AttemptError(
      `answered ${answer.status}`,
      retryable,
      answer.status,
      retryAfterMs(answer.retryAfter, s.now()),
    );
  }

  private noteFailure(event: WebhookEvent, error: AttemptError, retrying: boolean): void {
    if (this.streak) {
      this.streak.attempts++;
      return;
    }
    this.streak = { attempts: 1, failed: 0 };
    this.logger?.warn(
      {
        url: this.safeUrl(),
        event: event.type,
        delivery: event.id,
        error: error.message,
        ...(error.status !== undefined && { status: error.status }),
        retrying,
      },
      retrying
        ? 'webhook delivery failing: retrying with backoff (logged once until a delivery succeeds)'
        : 'webhook receiver refused an event: not retried (logged once until a delivery succeeds)',
    );
  }

  private recovered(): void {
    if (!this.streak) return;
    this.logger?.info(
      {
        url: this.safeUrl(),
        failed_attempts: this.streak.attempts,
        events_given_up: this.streak.failed,
      },
      'webhook deliveries succeed again',
    );
    this.streak = undefined;
  }

  /** The URL as logs show it: credentials and token-like query values masked. */
  private safeUrl(): string {
    return redactSecrets(this.settings.url, [this.settings.secret]);
  }
}

/**
 * Milliseconds a `Retry-After` value asks to wait: delay-seconds or an HTTP date (relative to
 * `now`); undefined when absent or unreadable.
 */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Every HTTP date form starts with the day's name; Date.parse alone reads '-5' as a year.
  if (!/^[A-Za-z]{3}/.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** fetch reports "fetch failed" and hides the reason (ECONNREFUSED, ENOTFOUND…) in `cause`. */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: string; message?: string } | undefined;
  const detail = cause?.code ?? cause?.message;
  return detail ? `${error.message} (${detail})` : error.message;
}

function definedOnly<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(object).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import { CLUSTER_DEFAULTS } from './cluster-defaults.js';
import { IpcOutbox } from './ipc-outbox.js';
import { isVtpMessage, type PrimaryMessage, type WorkerMessage } from './replica-messages.js';
import { applyUsage, type UsageTarget } from './usage.js';

/** Where a starting worker's snapshot comes from (the ReplicaFeed). */
export interface SnapshotSource {
  /** Everything a starting worker needs, in the order to apply it. */
  snapshot(): PrimaryMessage[];
}

export interface WorkerPoolOptions {
  /** HLS worker processes to keep running. */
  readonly processes: number;
  /** The replicas' source: a snapshot for each worker that starts (changes come by `broadcast`). */
  readonly feed: SnapshotSource;
  /** Where the workers' counts are applied (the primary's DistributionService). */
  readonly usage: UsageTarget;
  /** The primary's own listener (loopback), where workers send what they do not serve. */
  readonly origin: { readonly host: string; readonly port: number };
  /** What workers prove their requests to the primary with (forwarded-for.ts). */
  readonly proxySecret: string;
  readonly log: FastifyBaseLogger;
  /** Bounds of what waits for each worker (defaults: CLUSTER_DEFAULTS). */
  readonly limits?: {
    readonly maxInFlightBytes?: number;
    readonly maxUnsentBytes?: number;
  };
}

/** A worker that got its snapshot (or is getting it), and what waits to be sent to it. */
interface Member {
  readonly worker: Worker;
  readonly outbox: IpcOutbox;
}

/** A worker's flush waiting for its answer. */
interface PendingFlush {
  readonly waiting: Set<number>;
  readonly done: () => void;
}

/**
 * The primary's HLS workers (node:cluster, sharing the public port): forks them, gives each a
 * snapshot of the replicas before it listens, broadcasts every change, applies their counts,
 * replaces one that dies or falls behind (it starts from a fresh snapshot; sessions live here,
 * so none is lost), and stops them before the primary stops.
 */
export class WorkerPool {
  /** Workers that asked for their snapshot: each gets every broadcast after it, in order. */
  private readonly members = new Map<number, Member>();
  private readonly listening = new Set<number>();
  private readonly flushes = new Map<number, PendingFlush>();
  /** Workers killed for falling behind: their exit starts another, whenever it comes. */
  private readonly replacing = new Set<number>();
  private nextFlush = 0;
  private flushing: Promise<void> | undefined;
  private nextRound: Promise<void> | undefined;
  private stopping = false;
  private started: { resolve: (port: number) => void; reject: (error: Error) => void } | undefined;
  private port: number | undefined;

  constructor(private readonly options: WorkerPoolOptions) {}

  /** Forks the workers; resolves the public port once every one of them listens. */
  start(): Promise<number> {
    // Segments cross as bytes (Buffers), not as JSON arrays of numbers.
    cluster.setupPrimary({ serialization: 'advanced' });
    const ready = new Promise<number>((resolve, reject) => {
      this.started = { resolve, reject };
    });
    for (let i = 0; i < this.options.processes; i++) this.fork();
    return ready;
  }

  /**
   * Queues `message` for every worker, after whatever it still has to receive (its snapshot
   * first). `catchUp` marks a whole stream sent again (ReplicaFeed.announce): bounded like a
   * snapshot, it does not count towards a worker falling behind.
   */
  broadcast(message: PrimaryMessage, catchUp = false): void {
    for (const member of this.members.values()) member.outbox.push(message, !catchUp);
  }

  /**
   * Asks every listening worker for what it has served and not sent yet, and resolves once all
   * answered (their counts applied) or after `waitMs`, so a read of the API sees every response a
   * worker finished before it. Callers share the round in flight, or the one after it: a round
   * already asked may have missed what finished since, so a caller arriving meanwhile waits for
   * the next, which everyone arriving until it starts shares.
   */
  flush(waitMs: number = CLUSTER_DEFAULTS.flushWaitMs): Promise<void> {
    if (!this.flushing) {
      this.flushing = this.flushRound(waitMs).finally(() => {
        this.flushing = undefined;
      });
      return this.flushing;
    }
    this.nextRound ??= this.flushing.then(() => {
      this.nextRound = undefined;
      return this.flush(waitMs);
    });
    return this.nextRound;
  }

  /**
   * Stops every worker by `deadlineAt` (performance.now() time): each stops taking connections,
   * finishes what is in flight (requests it passed to the primary included, so the primary stops
   * after them) and sends its last counts; one still running at the deadline is killed.
   */
  async stop(deadlineAt: number): Promise<void> {
    this.stopping = true;
    // Updates still waiting matter no more: the workers go.
    for (const member of this.members.values()) member.outbox.close();
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    const exits = workers.map((worker) =>
      worker.isDead() ? Promise.resolve() : once(worker, 'exit').then(() => undefined),
    );
    const left = Math.max(0, deadlineAt - performance.now());
    // A worker cuts its connections a little before the deadline, to send its counts in time.
    const deadlineMs = Math.max(0, left - CLUSTER_DEFAULTS.workerExitMs);
    for (const worker of workers) send(worker, { type: 'vtp:drain', deadlineMs });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, left);
    });
    await Promise.race([Promise.all(exits), late]);
    clearTimeout(timer);
    for (const worker of workers) if (!worker.isDead()) worker.process.kill('SIGKILL');
    await Promise.all(exits);
  }

  private flushRound(waitMs: number): Promise<void> {
    // A worker not listening yet has served nothing.
    const asked = [...this.members.values()].filter((m) => this.listening.has(m.worker.id));
    if (asked.length === 0) return Promise.resolve();
    const id = ++this.nextFlush;
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.flushes.delete(id);
        resolve();
      };
      const timer = setTimeout(finish, waitMs);
      this.flushes.set(id, { waiting: new Set(asked.map((m) => m.worker.id)), done: finish });
      // Ahead of updates still waiting in the outbox: the answer is about usage, not replicas.
      for (const member of asked) send(member.worker, { type: 'vtp:flush', id });
    });
  }

  private fork(): void {
    const worker = cluster.fork();
    const forkedAt = Date.now();
    worker.on('message', (message: unknown) => {
      if (isVtpMessage(message)) this.onMessage(worker, message as WorkerMessage);
    });
    worker.on('error', (err) =>
      this.options.log.warn({ err, worker: worker.id }, 'worker IPC error'),
    );
    worker.once('exit', (code, signal) => this.onExit(worker, code, signal, forkedAt));
  }

  private onMessage(worker: Worker, message: WorkerMessage): void {
    switch (message.type) {
      case 'vtp:hello':
        if (!this.stopping) this.welcome(worker);
        return;
      case 'vtp:listening':
        this.port ??= message.port;
        this.listening.add(worker.id);
        this.options.log.info(
          { worker: worker.id, pid: worker.process.pid },
          `HLS worker ${worker.id} listening`,
        );
        if (this.started && this.listening.size >= this.options.processes) {
          this.started.resolve(this.port);
          this.started = undefined;
        }
        return;
      case 'vtp:usage':
        applyUsage(this.options.usage, message.ops);
        return;
      case 'vtp:flushed':
        this.answered(message.id, worker.id);
        return;
      default:
        return;
    }
  }

  /**
   * A starting worker's snapshot, then `vtp:ready`, then every broadcast after it, down one
   * outbox: nothing is missed, and the snapshot goes a few megabytes at a time.
   */
  private welcome(worker: Worker): void {
    const limits = this.options.limits;
    const maxUnsentBytes = limits?.maxUnsentBytes ?? CLUSTER_DEFAULTS.maxUnsentBytes;
    const outbox = new IpcOutbox({
      send: (message, taken) => send(worker, message, taken),
      maxInFlightBytes: limits?.maxInFlightBytes ?? CLUSTER_DEFAULTS.maxInFlightBytes,
      maxUnsentBytes,
      onOverflow: (unsentBytes) => this.fellBehind(worker, unsentBytes, maxUnsentBytes),
    });
    this.members.get(worker.id)?.outbox.close();
    for (const part of this.options.feed.snapshot()) outbox.push(part, false);
    outbox.push(
      { type: 'vtp:ready', origin: this.options.origin, proxySecret: this.options.proxySecret },
      false,
    );
    this.members.set(worker.id, { worker, outbox });
  }

  /** A worker leaving updates unread (stopped, or stuck in a loop) is replaced by a fresh one. */
  private fellBehind(worker: Worker, unsentBytes: number, limit: number): void {
    this.forget(worker.id);
    this.replacing.add(worker.id);
    this.options.log.warn(
      { worker: worker.id, pid: worker.process.pid, unsentBytes, limit },
      `HLS worker ${worker.id} fell behind (${mib(unsentBytes)} MiB of updates unread, the limit is ${mib(limit)} MiB); replacing it`,
    );
    if (!worker.isDead()) worker.process.kill('SIGKILL');
  }

  private forget(workerId: number): void {
    this.members.get(workerId)?.outbox.close();
    this.members.delete(workerId);
    this.listening.delete(workerId);
    for (const id of [...this.flushes.keys()]) this.answered(id, workerId);
  }

  private answered(id: number, workerId: number): void {
    const flush = this.flushes.get(id);
    if (!flush) return;
    flush.waiting.delete(workerId);
    if (flush.waiting.size === 0) flush.done();
  }

  private onExit(
    worker: Worker,
    code: number | null,
    signal: string | null,
    forkedAt: number,
  ): void {
    this.forget(worker.id);
    const replaced = this.replacing.delete(worker.id);
    if (this.stopping) return;
    if (this.started && !replaced) {
      // A worker that cannot start (the port is taken, say) stops the server: it would again.
      this.started.reject(
        new Error(`HLS worker ${worker.id} exited (${signal ?? code}) before it listened`),
      );
      this.started = undefined;
      this.stopping = true;
      return;
    }
    const quick = Date.now() - forkedAt < CLUSTER_DEFAULTS.quickDeathMs;
    this.options.log.warn(
      { worker: worker.id, pid: worker.process.pid, code, signal },
      `HLS worker ${worker.id} exited; starting another`,
    );
    // A worker dying right after it started would die again at once: pause between tries.
    setTimeout(
      () => {
        if (!this.stopping) this.fork();
      },
      quick ? CLUSTER_DEFAULTS.restartDelayMs : 0,
    ).unref();
  }
}

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

/**
 * Sends to a worker whose channel may have just closed (it died): that one gets nothing more.
 * `taken` is called once Node's channel took the message (or failed to).
 */
function send(worker: Worker, message: PrimaryMessage, taken?: () => void): void {
  if (!worker.isConnected()) return;
  try {
    worker.send(message, undefined, () => taken?.());
  } catch {
    // Closed between the check and the send; its exit is on its way.
  }
}

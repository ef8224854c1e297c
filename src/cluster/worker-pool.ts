import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import { CLUSTER_DEFAULTS } from './cluster-defaults.js';
import type { ReplicaFeed } from './replica-feed.js';
import { isVtpMessage, type PrimaryMessage, type WorkerMessage } from './replica-messages.js';
import { applyUsage, type UsageTarget } from './usage.js';

export interface WorkerPoolOptions {
  /** HLS worker processes to keep running. */
  readonly processes: number;
  /** The replicas' source: a snapshot for each worker that starts, then every change. */
  readonly feed: ReplicaFeed;
  /** Where the workers' counts are applied (the primary's DistributionService). */
  readonly usage: UsageTarget;
  /** The primary's own listener (loopback), where workers send what they do not serve. */
  readonly origin: { readonly host: string; readonly port: number };
  readonly log: FastifyBaseLogger;
}

/** A worker's flush waiting for its answer. */
interface PendingFlush {
  readonly waiting: Set<number>;
  readonly done: () => void;
}

/**
 * The primary's HLS workers (node:cluster, sharing the public port): forks them, gives each a
 * snapshot of the replicas before it listens, broadcasts every change, applies their counts,
 * replaces one that dies (it starts from a fresh snapshot; sessions live here, so none is lost),
 * and stops them before the primary stops.
 */
export class WorkerPool {
  /** Workers that got their snapshot, so they get every broadcast after it. */
  private readonly members = new Map<number, Worker>();
  private readonly listening = new Set<number>();
  private readonly flushes = new Map<number, PendingFlush>();
  private nextFlush = 0;
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

  /** Sends `message` to every worker that has its snapshot. */
  broadcast(message: PrimaryMessage): void {
    for (const worker of this.members.values()) send(worker, message);
  }

  /**
   * Asks every worker for what it has served and not sent yet, and resolves once all answered
   * (their counts applied) or after `waitMs`, so a read of the API sees every response a worker
   * finished before it.
   */
  flush(waitMs: number = CLUSTER_DEFAULTS.flushWaitMs): Promise<void> {
    if (this.members.size === 0) return Promise.resolve();
    const id = ++this.nextFlush;
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.flushes.delete(id);
        resolve();
      };
      const timer = setTimeout(finish, waitMs);
      this.flushes.set(id, { waiting: new Set(this.members.keys()), done: finish });
      for (const worker of this.members.values()) send(worker, { type: 'vtp:flush', id });
    });
  }

  /**
   * Stops every worker: each stops taking connections, finishes what is in flight (requests it
   * passed to the primary included, so the primary stops after them) and sends its last counts;
   * one still running after the deadline is killed.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    const exits = workers.map((worker) =>
      worker.isDead() ? Promise.resolve() : once(worker, 'exit').then(() => undefined),
    );
    for (const worker of workers) send(worker, { type: 'vtp:drain', deadlineMs });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs + 1000);
    });
    await Promise.race([Promise.all(exits), late]);
    clearTimeout(timer);
    for (const worker of workers) if (!worker.isDead()) worker.process.kill('SIGKILL');
    await Promise.all(exits);
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
        // The snapshot and every later broadcast go down one ordered channel: nothing is missed.
        for (const part of this.options.feed.snapshot()) send(worker, part);
        send(worker, { type: 'vtp:ready', origin: this.options.origin });
        this.members.set(worker.id, worker);
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
    this.members.delete(worker.id);
    this.listening.delete(worker.id);
    for (const id of [...this.flushes.keys()]) this.answered(id, worker.id);
    if (this.stopping) return;
    if (this.started) {
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

/** Sends to a worker whose channel may have just closed (it died): that one gets nothing more. */
function send(worker: Worker, message: PrimaryMessage): void {
  if (!worker.isConnected()) return;
  try {
    worker.send(message);
  } catch {
    // Closed between the check and the send; its exit is on its way.
  }
}

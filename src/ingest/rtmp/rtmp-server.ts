import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  CHILD_ENV,
  type ChildMessage,
  type ParentMessage,
  redactStreamPaths,
  type StatsMessage,
} from './protocol.js';
import { isStreamKeyFormat } from './stream-key.js';

/** The pino methods the supervisor logs with (a pino logger fits). */
export interface RtmpLog {
  info(detail: Record<string, unknown>, message: string): void;
  warn(detail: Record<string, unknown>, message: string): void;
}

export interface RtmpServerOptions {
  host: string;
  port: number;
  /** The pull alias for a stream key, or undefined to refuse the publish. */
  /** `local`: the publisher connected from this host (only the SRT relay should). */
  approve(key: string, local: boolean): Promise<string | undefined>;
  /** The publish pulled under `alias` has ended (its publisher left, or the child died). */
  onEnded(alias: string): void;
  log: RtmpLog;
}

export interface RtmpStatus {
  up: boolean;
  restarts: number;
  publishing: number;
}

/** What the RTMP child knows of one approved publish's ingest. */
export interface PublishStats {
  /** When the publish was approved, ms since the epoch. */
  connectedAt: number;
  /** Bytes received on the publish's connection so far. */
  bytesIn: number;
  /** Incoming bitrate over the last report interval (all of it: video, audio, RTMP framing). */
  kbps: number | undefined;
  width?: number;
  height?: number;
  fps?: number;
  videoCodec?: string;
  audioCodec?: string;
}

/** A live publish: its stats, and the report its bitrate is measured from. */
interface LivePublish {
  stats: PublishStats;
  base: { bytesIn: number; at: number } | undefined;
}

/**
 * Reports closer together than this keep measuring from the older one: the extra report sent
 * when the picture size becomes known would otherwise make a rate from a fraction of a second.
 */
const MIN_RATE_INTERVAL_MS = 1_000;

/** Restart back-off for a child that exits on its own: doubles from the first to the max. */
const RESTART = { firstMs: 1_000, maxMs: 10_000, stableMs: 60_000 };

// The child's entry sits next to this file: compiled .js in dist, .ts when run under tsx.
const here = fileURLToPath(import.meta.url);
const ENTRY = here.replace(/rtmp-server\.(js|ts)$/, (_, ext: string) => `nms-entry.${ext}`);

/**
 * Supervises the RTMP listener (nms-entry.ts) that lecturers publish to from OBS: forks it,
 * answers its approval requests with `approve`, relays publish ends to `onEnded` and restarts it
 * when it exits unexpectedly. Stream keys reach the child only over IPC and only from the
 * child; the child's argv and env hold nothing secret.
 */
export class RtmpServer {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restarts = 0;
  private delayMs = RESTART.firstMs;
  private restartTimer: NodeJS.Timeout | undefined;
  private stableTimer: NodeJS.Timeout | undefined;
  private up = false;
  /** Set once a child listened: before that an exit fails start() rather than restarting. */
  private everUp = false;
  /** Approved publishes not yet ended, by alias. */
  private readonly live = new Map<string, LivePublish>();

  constructor(private readonly options: RtmpServerOptions) {
    if (!existsSync(ENTRY)) throw new Error(`RTMP child entry missing: ${ENTRY}`);
  }

  /**
   * Forks the child and resolves once it listens. Rejects, without retrying, if the first child
   * exits before listening (port in use, bad host): start-up should stop with that error.
   */
  start(): Promise<void> {
    this.stopping = false;
    return this.spawn();
  }

  /** Stops the child; live publishes end (onEnded is called for each). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    clearTimeout(this.stableTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  status(): RtmpStatus {
    return { up: this.up, restarts: this.restarts, publishing: this.live.size };
  }

  /** What the child reported of the publish under `alias`, while it is live. */
  stats(alias: string): PublishStats | undefined {
    const stats = this.live.get(alias)?.stats;
    return stats && { ...stats };
  }

  /** The child's pid while it runs (for health checks and tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Kills the child at once without waiting (for process exit handlers). */
  killNow(): void {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.child?.kill('SIGKILL');
  }

  /** Disconnects the publisher approved under `alias` (onEnded follows, as when it leaves). */
  close(alias: string): void {
    if (this.child?.connected && this.live.has(alias)) this.child.send({ type: 'close', alias });
  }

  /** Where the local ladder pulls an approved publish from (loopback, alias path only). */
  pullUrl(alias: string): string {
    // Loopback when the listener takes every address; else the one address it is bound to.
    const { host, port } = this.options;
    const local = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    return `rtmp://${local.includes(':') ? `[${local}]` : local}:${port}/live/${alias}`;
  }

  private spawn(): Promise<void> {
    const { host, port, log } = this.options;
    // A minimal env: nothing of the parent's (which may hold secrets) beyond what node needs.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      [CHILD_ENV.host]: host,
      [CHILD_ENV.port]: String(port),
    };
    const child = fork(ENTRY, [], {
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.child = child;
    // NMS logs (warn and above, paths redacted in the child) go to our log, one entry a line;
    // what the child prints otherwise (a stack trace, a dependency's console.error) is masked here.
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (text: string) => {
        for (const line of text.split('\n'))
          if (line.trim()) log.warn({ line: redactStreamPaths(line) }, 'rtmp child output');
      });
    }
    child.on('message', (message: ChildMessage) => this.onMessage(child, message));
    return new Promise((resolve, reject) => {
      child.once('message', () => resolve()); // the first message is 'ready'
      child.once('exit', (code, signal) => {
        reject(new Error(`RTMP child exited before listening (code ${code}, signal ${signal})`));
        this.onExit(code, signal);
      });
    });
  }

  private onMessage(child: ChildProcess, message: ChildMessage): void {
    const reply = (answer: ParentMessage) => {
      if (child.connected) child.send(answer);
    };
    if (message.type === 'ready') {
      this.up = true;
      this.everUp = true;
      // A child that stays up a minute resets the back-off.
      this.stableTimer = setTimeout(() => {
        this.delayMs = RESTART.firstMs;
      }, RESTART.stableMs);
      this.stableTimer.unref();
    } else if (message.type === 'publish') {
      const { id, key, local } = message;
      const approval = isStreamKeyFormat(key)
        ? this.options.approve(key, local === true)
        : Promise.resolve(undefined);
      approval.then(
        (alias) => {
          if (alias === undefined) return reply({ type: 'refused', id });
          // The alias becomes an RTMP path: the same safe characters NMS allows in a name.
          if (!/^[A-Za-z0-9_-]+$/.test(alias)) {
            this.options.log.warn({ alias }, 'rtmp publish refused: unusable pull alias');
            return reply({ type: 'refused', id });
          }
          this.live.set(alias, {
            stats: { connectedAt: Date.now(), bytesIn: 0, kbps: undefined },
            base: undefined,
          });
          this.options.log.info({ alias }, 'rtmp publish approved');
          reply({ type: 'approved', id, alias });
        },
        (error: Error) => {
          this.options.log.warn({ err: error.message }, 'rtmp publish approval failed');
          reply({ type: 'refused', id });
        },
      );
    } else if (message.type === 'ended') {
      this.end(message.alias);
    } else if (message.type === 'stats') {
      this.record(message);
    }
  }

  /** Takes a report; the bitrate is timed here (IPC adds far less than a report interval). */
  private record(report: StatsMessage): void {
    const { alias, bytesIn, videoCodec, width, height, fps, audioCodec } = report;
    const publish = this.live.get(alias);
    if (!publish) return; // ended meanwhile
    const now = performance.now();
    const { base, stats } = publish;
    let kbps = stats.kbps;
    if (base === undefined) publish.base = { bytesIn, at: now };
    else if (now - base.at >= MIN_RATE_INTERVAL_MS) {
      kbps = Math.round(((bytesIn - base.bytesIn) * 8) / (now - base.at)); // bits per ms = kbps
      publish.base = { bytesIn, at: now };
    }
    const { connectedAt } = stats;
    publish.stats = { connectedAt, bytesIn, kbps, videoCodec, width, height, fps, audioCodec };
  }

  private end(alias: string): void {
    if (this.live.delete(alias)) this.options.onEnded(alias);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.up = false;
    this.child = undefined;
    clearTimeout(this.stableTimer);
    // The child's publishes died with it.
    for (const alias of [...this.live.keys()]) this.end(alias);
    if (this.stopping || !this.everUp) return;
    this.options.log.warn(
      { code, signal, restartInMs: this.delayMs },
      'rtmp child exited, restarting',
    );
    this.restarts += 1;
    this.restartTimer = setTimeout(() => {
      this.spawn().catch(() => {}); // its exit schedules the next try
    }, this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, RESTART.maxMs);
  }
}

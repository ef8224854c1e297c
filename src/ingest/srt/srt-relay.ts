import { type ChildProcess, spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { RtmpLog } from '../rtmp/rtmp-server.js';

/** The pino methods the relay logs with: the RTMP supervisor's (a pino logger fits). */
export type SrtRelayLog = RtmpLog;

export interface SrtRelayOptions {
  /** Address the SRT listener binds. */
  host: string;
  /** UDP port of the SRT listener. */
  port: number;
  /** The stream key, as the SRT passphrase a caller must present; never in argv, env or logs. */
  passphrase: string;
  /** Where the relay publishes: the local RTMP server under this listener's relay key. */
  target: string;
  /** ffmpeg binary; default `VTP_FFMPEG`, then `ffmpeg` on the PATH. */
  ffmpeg?: string;
  log: SrtRelayLog;
}

export interface SrtRelayStatus {
  port: number;
  /** An ffmpeg holds the port: waiting for a caller, or relaying one. */
  listening: boolean;
  /** ffmpeg runs started again after one ended. */
  restarts: number;
  /** When the current caller's media first reached the RTMP server (epoch ms). */
  connectedSince: number | undefined;
}

export const SRT_RELAY = {
  /**
   * SRT receive latency in µs (ffmpeg's srt protocol takes microseconds): 200 ms leaves room for
   * retransmissions over a lecturer's home uplink and is small beside 2 s HLS segments.
   */
  latencyUs: 200_000,
  /** A run shorter than this failed without a caller (port taken, bad address). */
  fastExitMs: 1_000,
  /** Fast failures in a row that start the back-off (the earlier ones restart at once). */
  fastExitsBeforeBackoff: 3,
  backoffFirstMs: 1_000,
  backoffMaxMs: 10_000,
  /** SIGTERM grace before SIGKILL on stop. */
  killAfterMs: 3_000,
};

/** libsrt accepts 10-80 characters; the stream-key alphabet keeps the ffconcat list unquoted. */
const PASSPHRASE = /^[A-Za-z0-9_-]{10,80}$/;
/** A host name or IP literal: nothing that could break out of the ffconcat line. */
const HOST = /^[A-Za-z0-9.:_-]+$/;

/**
 * One SRT listener per stream: a supervised ffmpeg accepts one caller (the lecturer's OBS, whose
 * passphrase is the stream key) and copies its MPEG-TS, unchanged, into the local RTMP server,
 * where the stream's publish path takes over. ffmpeg's libsrt is the well-kept SRT
 * implementation here (Node has none). An ffmpeg listener ends when its caller leaves, so the
 * relay starts the next one at once.
 */
export class SrtRelay {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restarts = 0;
  private fastExits = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private connectedSince: number | undefined;
  private readonly ffmpeg: string;

  constructor(private readonly options: SrtRelayOptions) {
    if (!PASSPHRASE.test(options.passphrase))
      throw new Error('SRT passphrase must be 10-80 characters of A-Z, a-z, 0-9, _ and -');
    if (!HOST.test(options.host)) throw new Error('SRT listener host is not an address');
    this.ffmpeg = options.ffmpeg ?? process.env.VTP_FFMPEG ?? 'ffmpeg';
  }

  /** Starts listening (ffmpeg binds the port at once; a failure shows in the log and restarts). */
  start(): void {
    this.stopping = false;
    if (!this.child && !this.restartTimer) this.spawn();
  }

  /** Kills ffmpeg at once without waiting (for process exit handlers). */
  killNow(): void {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.child?.kill('SIGKILL');
  }

  /** Stops the listener and any relayed caller; resolves once ffmpeg has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (!child) return;
    const closed = new Promise((resolve) => child.once('close', resolve));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), SRT_RELAY.killAfterMs);
    await closed;
    clearTimeout(killer);
  }

  status(): SrtRelayStatus {
    return {
      port: this.options.port,
      listening: this.child !== undefined,
      restarts: this.restarts,
      connectedSince: this.connectedSince,
    };
  }

  /** The running ffmpeg's pid (for tests and health checks). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private spawn(): void {
    const { port, target, log } = this.options;
    // The SRT URL and its options reach ffmpeg as a one-entry ffconcat list on fd 3, so the
    // passphrase is in neither argv nor env; `option` lines rather than URL parameters keep it
    // out of the URL that libsrt and ffmpeg print in their errors, too.
    // biome-ignore format: ffmpeg arguments read best as pairs
    const args = ['-hide_banner', '-nostdin', '-loglevel', 'warning', '-nostats',
      '-progress', 'pipe:1',
      '-f', 'concat', '-safe', '0', '-protocol_whitelist', 'pipe,srt,udp', '-i', 'pipe:3',
      '-c', 'copy', '-f', 'flv', target];
    const child = spawn(this.ffmpeg, args, {
      env: { PATH: process.env.PATH }, // nothing of the parent's (which may hold secrets)
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    this.connectedSince = undefined;
    const startedAt = Date.now();
    let lastLine = '';
    // ffmpeg writes its first progress block once the first packet is muxed: the caller is
    // connected, its stream probed, and the RTMP server took the publish.
    child.stdout?.on('data', () => {
      if (this.child !== child || this.connectedSince !== undefined) return;
      this.connectedSince = Date.now();
      log.info({ port }, 'srt caller connected, relaying');
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      const lines = text.split('\n').filter((line) => line.trim());
      lastLine = lines.at(-1)?.slice(0, 500) ?? lastLine;
    });
    const list = child.stdio[3] as Writable;
    list.on('error', () => {}); // an ffmpeg that died at once: its exit is reported below
    list.end(this.concatList());
    child.on('error', (error) => {
      lastLine = error.message; // spawn failed (no ffmpeg): 'close' follows
    });
    child.once('close', (code, signal) =>
      this.onClose(child, { code, signal, ranMs: Date.now() - startedAt, lastLine }),
    );
  }

  private concatList(): string {
    const { host, port, passphrase } = this.options;
    const address = host.includes(':') ? `[${host}]` : host;
    return [
      'ffconcat version 1.0',
      `file 'srt://${address}:${port}'`,
      'option mode listener',
      `option passphrase ${passphrase}`,
      `option latency ${SRT_RELAY.latencyUs}`,
      '',
    ].join('\n');
  }

  private onClose(
    child: ChildProcess,
    run: { code: number | null; signal: NodeJS.Signals | null; ranMs: number; lastLine: string },
  ): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.connectedSince = undefined;
    if (this.stopping) return;
    // A caller that leaves ends a run normally; only runs that die at once (a taken port) back
    // off, so a lecturer reconnecting is never kept waiting.
    this.fastExits = run.ranMs < SRT_RELAY.fastExitMs ? this.fastExits + 1 : 0;
    const over = this.fastExits - SRT_RELAY.fastExitsBeforeBackoff;
    const delayMs =
      over < 0 ? 0 : Math.min(SRT_RELAY.backoffFirstMs * 2 ** over, SRT_RELAY.backoffMaxMs);
    this.options.log.warn(
      {
        port: this.options.port,
        code: run.code,
        signal: run.signal,
        ranMs: run.ranMs,
        restartInMs: delayMs,
        lastLine: this.redact(run.lastLine),
      },
      'srt relay ffmpeg exited, listening again',
    );
    this.restarts += 1;
    if (delayMs === 0) {
      this.spawn();
      return;
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.spawn();
    }, delayMs);
  }

  /** Keeps the passphrase and the relay key out of logged ffmpeg output. */
  private redact(line: string): string {
    return line
      .replaceAll(this.options.passphrase, '<redacted>')
      .replace(/passphrase=[^&\s'"]*/g, 'passphrase=<redacted>')
      .replace(/\/live\/[^\s'"]*/g, '/live/<redacted>');
  }
}

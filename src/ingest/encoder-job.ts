import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { redactDetail, redactSecrets } from '../service/redact.js';
import { EncoderProgress } from './encoder-progress.js';

export type EncoderState = 'starting' | 'running' | 'restarting' | 'finished' | 'stopped';

export interface EncoderStatus {
  readonly jobId: string;
  readonly recordingId: string;
  readonly state: EncoderState;
  readonly pid: number | undefined;
  readonly restarts: number;
  /** ffmpeg's own real-time factor, averaged since the process started. */
  readonly speed: number | undefined;
  /** Media seconds encoded per wall-clock second over the last window (0 while stalled). */
  readonly recentSpeed: number | undefined;
  /** Running but not keeping real time over the last window (or stalled). */
  readonly behind: boolean;
  readonly encodedSeconds: number;
  readonly lastError: string | undefined;
  readonly startedAt: number;
}

export interface EncoderJobOptions {
  readonly jobId: string;
  readonly recordingId: string;
  readonly ffmpeg: string;
  readonly args: readonly string[];
  /** First restart delay; doubles per consecutive failure up to maxBackoffMs. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A run that lasted this long resets the backoff. */
  readonly stableAfterMs?: number;
  readonly onEvent?: (event: string, detail: Record<string, unknown>) => void;
  /** Secrets masked in lastError and event details, besides URL credentials and `?key=`. */
  readonly secrets?: readonly string[];
  /** Called once when the job ends for good (finished or stopped), after ffmpeg has exited. */
  readonly onEnded?: () => void;
  /** Called on every change of state (the manager records running jobs, issue 9). */
  readonly onStateChange?: (state: EncoderState) => void;
  /** When the job first started: a job restarted after a server restart keeps its own. */
  readonly startedAt?: number;
}

const STDERR_TAIL = 2000;
/** How often a running job's pace is judged, so a stalled ffmpeg (no output at all) is noticed. */
const PACE_CHECK_MS = 1000;

/**
 * One ffmpeg ladder process kept alive: restarted with exponential backoff whenever it dies
 * unasked (a clean exit after a finite source is final), stopped (and waited for) on request.
 */
export class EncoderJob {
  private child: ChildProcess | undefined;
  private state: EncoderState = 'starting';
  private restarts = 0;
  private failures = 0;
  private lastError: string | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly progress = new EncoderProgress();
  private readonly startedAt: number;
  private exited: Promise<void> = Promise.resolve();
  private ended = false;
  private paceTimer: NodeJS.Timeout | undefined;
  /** The pace verdict last announced, so `behind` and `caught_up` are logged once each. */
  private announcedBehind = false;

  constructor(private readonly options: EncoderJobOptions) {
    this.startedAt = options.startedAt ?? Date.now();
  }

  start(): void {
    const runStarted = Date.now();
    this.progress.reset();
    const child = spawn(this.options.ffmpeg, this.options.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.setState('running');
    this.announcedBehind = false; // a new process is judged afresh
    this.emit(this.restarts === 0 ? 'started' : 'restarted', {
      jobId: this.options.jobId,
      recordingId: this.options.recordingId,
      pid: child.pid,
      restarts: this.restarts,
    });
    this.paceTimer ??= setInterval(() => this.checkPace(), PACE_CHECK_MS).unref();
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL);
    });
    if (child.stdout)
      createInterface({ input: child.stdout }).on('line', (line) =>
        this.progress.line(line, Date.now()),
      );
    this.exited = new Promise((resolve) => {
      child.once('error', (error) => {
        this.lastError = this.redact(error.message);
      });
      child.once('close', (code, signal) => {
        resolve();
        this.child = undefined;
        if (this.state === 'stopped') return this.end();
        if (code === 0) {
          this.setState('finished');
          this.emit('finished', {
            jobId: this.options.jobId,
            recordingId: this.options.recordingId,
          });
          return this.end();
        }
        const said = stderr.trim();
        // stderr echoes source URLs, credentials included.
        this.lastError = this.redact(
          `ffmpeg exited with ${signal ?? code}${said ? `: ${said}` : ''}`,
        );
        this.failures =
          Date.now() - runStarted >= (this.options.stableAfterMs ?? 60_000) ? 1 : this.failures + 1;
        const delay = Math.min(
          (this.options.minBackoffMs ?? 1000) * 2 ** (this.failures - 1),
          this.options.maxBackoffMs ?? 30_000,
        );
        this.setState('restarting');
        this.emit('restarting', {
          jobId: this.options.jobId,
          recordingId: this.options.recordingId,
          code,
          signal,
          delayMs: delay,
          error: this.lastError,
        });
        this.retryTimer = setTimeout(() => {
          this.restarts++;
          this.start();
        }, delay);
      });
    });
  }

  /** Stops the encoder for good: SIGTERM, then SIGKILL if it lingers. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.isActive)
      this.emit('stopped', { jobId: this.options.jobId, recordingId: this.options.recordingId });
    this.setState('stopped');
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(killer);
    }
    this.end();
  }

  /** Kills the process at once without waiting (for process exit handlers). */
  killNow(): void {
    this.setState('stopped');
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.child?.kill('SIGKILL');
    this.end();
  }

  get isActive(): boolean {
    return this.state === 'starting' || this.state === 'running' || this.state === 'restarting';
  }

  private setState(state: EncoderState): void {
    if (this.state === state) return;
    this.state = state;
    this.options.onStateChange?.(state);
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.paceTimer);
    this.options.onEnded?.();
  }

  /** Announces when the running encoder falls behind real time, and when it catches up. */
  private checkPace(): void {
    if (this.state !== 'running') return;
    const now = Date.now();
    const behind = this.progress.behind(now);
    if (behind === this.announcedBehind) return;
    this.announcedBehind = behind;
    this.emit(behind ? 'behind' : 'caught_up', {
      jobId: this.options.jobId,
      recordingId: this.options.recordingId,
      recentSpeed: roundSpeed(this.progress.recentSpeed(now)),
      stalled: this.progress.stalled(now),
    });
  }

  private redact(text: string): string {
    return redactSecrets(text, this.options.secrets);
  }

  private emit(event: string, detail: Record<string, unknown>): void {
    this.options.onEvent?.(event, redactDetail(detail, this.options.secrets));
  }

  status(): EncoderStatus {
    const now = Date.now();
    const running = this.state === 'running';
    return {
      jobId: this.options.jobId,
      recordingId: this.options.recordingId,
      state: this.state,
      pid: this.child?.pid,
      restarts: this.restarts,
      speed: this.progress.speed,
      recentSpeed: running ? roundSpeed(this.progress.recentSpeed(now)) : undefined,
      behind: running && this.progress.behind(now),
      encodedSeconds: this.progress.encodedSeconds,
      lastError: this.lastError,
      startedAt: this.startedAt,
    };
  }
}

function roundSpeed(speed: number | undefined): number | undefined {
  return speed === undefined ? undefined : Math.round(speed * 1000) / 1000;
}

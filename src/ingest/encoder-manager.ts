import { statSync } from 'node:fs';
import path from 'node:path';
import { DistributionError } from '../core/errors.js';
import { randomIdGenerator } from '../service/random-ids.js';
import { EncoderJob, type EncoderState, type EncoderStatus } from './encoder-job.js';
import { LADDER_PRESETS, type LadderSource, ladderArguments } from './ffmpeg-ladder.js';

export type PresetName = keyof typeof LADDER_PRESETS;

/** A source as the API names it; files are resolved inside the media directory. */
export type SourceRequest =
  | { readonly type: 'test-pattern' }
  | { readonly type: 'file'; readonly path: string; readonly loop?: boolean | undefined }
  | { readonly type: 'url'; readonly url: string };

export interface StartEncoder {
  readonly recordingId: string;
  readonly source: SourceRequest;
  readonly preset: PresetName;
  readonly fmp4?: boolean | undefined;
  readonly durationSec?: number | undefined;
  /**
   * Fed by a lecturer's live publish (RTMP or SRT), pulled from the local RTMP server: not
   * started again after a server restart, when there is nothing left to pull.
   */
  readonly publish?: 'rtmp' | 'srt' | undefined;
}

/**
 * What the encoders need from ingest: a token that lets one job push to its stream, for as
 * long as the job lives. The publish key itself never reaches an ffmpeg command line.
 */
export interface EncoderIngestAccess {
  grantJobToken(recordingId: string, token: string): void;
  revokeJobToken(token: string): void;
}

/** A job as started (or started again after a server restart), for whoever records it. */
export interface StartedEncoderJob {
  readonly jobId: string;
  readonly request: StartEncoder;
  readonly state: EncoderState;
  readonly startedAt: number;
}

/**
 * Hears a job's life so it can be kept across a server restart (the state recorder, issue 9).
 * `ended` means for good (stopped through the API, finished, its stream ended); jobs the
 * server itself stops when it shuts down are not ended, so they start again with it.
 */
export interface EncoderJobObserver {
  started(job: StartedEncoderJob): void;
  stateChanged(jobId: string, state: EncoderState): void;
  ended(jobId: string): void;
}

/** A job started again after a server restart: its own id and start time. */
export interface ResumedJob {
  readonly jobId: string;
  readonly startedAt: number;
}

export const ENCODER_DEFAULTS = {
  mediaDir: 'media',
} as const;

export interface EncoderManagerOptions {
  /** VTP_FFMPEG or ffmpeg on PATH. */
  readonly ffmpeg?: string;
  /** Where file sources live; a request never reads outside it. */
  readonly mediaDir: string;
  readonly ingestAccess: EncoderIngestAccess;
  /** Secrets (publish key, admin token) masked in encoder statuses and events. */
  readonly secrets?: readonly (string | undefined)[];
  readonly minBackoffMs?: number;
  readonly onEvent?: (event: string, detail: Record<string, unknown>) => void;
}

export class EncoderNotFoundError extends DistributionError {
  constructor(jobId: string) {
    super('ENCODER_NOT_FOUND', `encoder job '${jobId}' does not exist`, 'job_id');
  }
}

export class EncoderExistsError extends DistributionError {
  constructor(recordingId: string, jobId: string) {
    super(
      'ENCODER_EXISTS',
      `stream '${recordingId}' already has encoder '${jobId}' running`,
      'recording_id',
    );
  }
}

export class SourceError extends DistributionError {
  constructor(message: string, field: string) {
    super('INVALID_SOURCE', message, field);
  }
}

/** Ended encoder jobs whose status stays available. */
const MAX_ENDED_JOBS = 50;

const URL_SCHEMES = new Set(['rtmp:', 'rtmps:', 'srt:', 'rtsp:', 'http:', 'https:']);
const SAFE_RELATIVE_PATH = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/**
 * The built-in ladder encoders: one ffmpeg per stream, publishing through the server's own
 * ingest endpoint like any external encoder would, so nothing takes a side door.
 */
export class EncoderManager {
  private readonly jobs = new Map<string, EncoderJob>();
  private readonly newJobId = randomIdGenerator('enc-');
  private readonly newJobToken = randomIdGenerator('vtpjob-');
  private ingestBase: string | undefined;
  private readonly observers: EncoderJobObserver[] = [];
  /** Set once the server shuts down: jobs stopped from then on are not ended for good. */
  private shuttingDown = false;

  constructor(private readonly options: EncoderManagerOptions) {}

  /** Sets the URL encoders push to (the server's own, once it listens). */
  setIngestBase(url: string): void {
    this.ingestBase = url.replace(/\/+$/, '');
  }

  /** Tells `observer` of every job started, changed and ended from now on. */
  observe(observer: EncoderJobObserver): void {
    this.observers.push(observer);
  }

  /**
   * Starts an encoder for a stream; `resumed` starts a recorded job again after a server restart
   * with its own id, and a duration counted from its first start.
   */
  start(request: StartEncoder, resumed?: ResumedJob): EncoderStatus {
    if (!this.ingestBase)
      throw new DistributionError('NOT_LISTENING', 'the server is not listening yet');
    const running = this.activeFor(request.recordingId);
    if (running) throw new EncoderExistsError(request.recordingId, running.status().jobId);
    if (resumed && this.jobs.has(resumed.jobId))
      throw new EncoderExistsError(request.recordingId, resumed.jobId);
    const jobId = resumed?.jobId ?? this.newJobId();
    const startedAt = resumed?.startedAt ?? Date.now();
    // ffmpeg counts -t from its own start: a resumed job runs only what is left of its duration.
    const durationSec =
      request.durationSec === undefined || !resumed
        ? request.durationSec
        : Math.max(1, request.durationSec - Math.floor((Date.now() - startedAt) / 1000));
    const token = this.newJobToken();
    const args = ladderArguments({
      source: this.resolveSource(request.source),
      preset: LADDER_PRESETS[request.preset],
      ingestUrl: `${this.ingestBase}/ingest/${encodeURIComponent(request.recordingId)}`,
      durationSec,
      fmp4: request.fmp4 ?? false,
      bearerToken: token,
      progress: true,
    });
    const secrets = [token, ...(this.options.secrets ?? [])].filter(
      (s): s is string => s !== undefined,
    );
    const job = new EncoderJob({
      jobId,
      recordingId: request.recordingId,
      ffmpeg: this.options.ffmpeg ?? process.env.VTP_FFMPEG ?? 'ffmpeg',
      args,
      ...(this.options.minBackoffMs !== undefined && { minBackoffMs: this.options.minBackoffMs }),
      ...(this.options.onEvent && { onEvent: this.options.onEvent }),
      secrets,
      startedAt,
      onStateChange: (state) => {
        if (this.shuttingDown) return;
        for (const observer of this.observers) observer.stateChanged(jobId, state);
      },
      // A job ends once (finished, stopped or killed): its right to push ends with it.
      onEnded: () => {
        this.options.ingestAccess.revokeJobToken(token);
        if (this.shuttingDown) return;
        for (const observer of this.observers) observer.ended(jobId);
      },
    });
    this.options.ingestAccess.grantJobToken(request.recordingId, token);
    this.jobs.set(jobId, job);
    job.start();
    const status = job.status();
    for (const observer of this.observers) {
      observer.started({ jobId, request, state: status.state, startedAt });
    }
    this.forgetOldJobs();
    return status;
  }

  async stop(jobId: string): Promise<EncoderStatus> {
    const job = this.job(jobId);
    await job.stop();
    return job.status();
  }

  /** Stops the encoder feeding a stream, if any (the stream ended). */
  async stopForStream(recordingId: string): Promise<void> {
    await this.activeFor(recordingId)?.stop();
  }

  get(jobId: string): EncoderStatus {
    return this.job(jobId).status();
  }

  list(): EncoderStatus[] {
    return [...this.jobs.values()].map((job) => job.status());
  }

  /** The status of the encoder feeding a stream, if one runs. */
  statusFor(recordingId: string): EncoderStatus | undefined {
    return this.activeFor(recordingId)?.status();
  }

  /** Stops every job as the server shuts down (they stay recorded and start again with it). */
  async stopAll(): Promise<void> {
    this.shuttingDown = true;
    await Promise.all([...this.jobs.values()].map((job) => job.stop()));
  }

  /** Last resort on process exit: no ffmpeg outlives the server. */
  killAll(): void {
    this.shuttingDown = true;
    for (const job of this.jobs.values()) job.killNow();
  }

  /** Keeps the statuses of the last MAX_ENDED_JOBS ended jobs, so a long-running server stays bounded. */
  private forgetOldJobs(): void {
    const ended = [...this.jobs.entries()].filter(([, job]) => !job.isActive);
    // Ended jobs have revoked their tokens already (onEnded).
    for (const [jobId] of ended.slice(0, Math.max(0, ended.length - MAX_ENDED_JOBS)))
      this.jobs.delete(jobId);
  }

  private job(jobId: string): EncoderJob {
    const job = this.jobs.get(jobId);
    if (!job) throw new EncoderNotFoundError(jobId);
    return job;
  }

  private activeFor(recordingId: string): EncoderJob | undefined {
    for (const job of this.jobs.values()) {
      if (job.isActive && job.status().recordingId === recordingId) return job;
    }
    return undefined;
  }

  private resolveSource(source: SourceRequest): LadderSource {
    if (source.type === 'test-pattern') return { kind: 'test-pattern' };
    if (source.type === 'url') {
      let url: URL;
      try {
        url = new URL(source.url);
      } catch {
        throw new SourceError(`'${source.url}' is not a URL`, 'source.url');
      }
      if (!URL_SCHEMES.has(url.protocol)) {
        throw new SourceError(
          `source URLs must be rtmp, rtmps, srt, rtsp, http or https; got ${url.protocol}`,
          'source.url',
        );
      }
      return { kind: 'url', url: url.href };
    }
    // Only a plain relative name inside the media directory: no absolute paths, no '..'.
    if (
      !SAFE_RELATIVE_PATH.test(source.path) ||
      source.path.split('/').some((part) => part === '..' || part === '.')
    ) {
      throw new SourceError(
        'source.path must be a file name relative to the media directory',
        'source.path',
      );
    }
    const root = path.resolve(this.options.mediaDir);
    const file = path.resolve(root, source.path);
    if (!file.startsWith(root + path.sep) || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
      throw new SourceError(`no media file '${source.path}' in the media directory`, 'source.path');
    }
    return { kind: 'file', path: file, loop: source.loop ?? true };
  }
}

import type { Readable } from 'node:stream';
import { DistributionError } from '../core/errors.js';
import { PROFILE_NAMES, PROFILES, type ProfileName } from '../core/profiles.js';
import {
  type VodSegment,
  writeVodMediaPlaylist,
  writeVodMultivariantPlaylist,
} from '../hls/vod-playlist.js';
import type { DistributionService } from './distribution-service.js';

/**
 * Recordings (live to VOD, README "Recordings"): what a stream's segments on disk become once the
 * stream ended. A recording is the newest stream incarnation of a `recording_id` that has files
 * on disk; starting a stream with that id again replaces it (its older incarnations are deleted),
 * as a new stream replaces an ended one in memory. Playable and deletable only once its stream
 * is no longer live; retention removes the oldest by age and total size, never a live one.
 */

/** Retention of recordings; 0 turns a limit off. */
export const RECORDINGS_DEFAULTS = {
  /** Seven days. */
  maxAgeSeconds: 7 * 24 * 3600,
  /** 20 GiB of segment bytes in all. */
  maxBytes: 20 * 2 ** 30,
  /** How often retention runs. */
  sweepIntervalMs: 60_000,
} as const;

/** What a stored segment's record says (the storage layer's record, as far as playlists need). */
export type RecordedMeta =
  | {
      readonly kind: 'segment';
      readonly sequence: number;
      readonly durationSec: number;
      readonly discontinuity: boolean;
      readonly programDateTime: number;
      readonly initId?: string | undefined;
      readonly gapBefore?: readonly number[] | undefined;
      readonly contentType: string;
      readonly createdAt: number;
    }
  | { readonly kind: 'init'; readonly contentType: string; readonly createdAt: number };

/** One stored segment or init section. */
export interface RecordedFile {
  readonly incarnation: string;
  readonly profile: ProfileName;
  readonly fileName: string;
  readonly size: number;
  /** SHA-256 of the bytes, base64url. */
  readonly sha256: string;
  readonly meta: RecordedMeta;
}

/**
 * The files on disk, as this module needs them; the storage layer's SegmentFiles implements it
 * (the service layer does not import storage: docs/architecture.md).
 */
export interface RecordingFileStore {
  /** A recording's files: incarnations oldest first, then profile, init sections, sequence. */
  list(recordingId: string): readonly RecordedFile[];
  recordings(): readonly { readonly recordingId: string }[];
  get(
    recordingId: string,
    incarnation: string,
    profile: ProfileName,
    fileName: string,
  ): RecordedFile | undefined;
  createReadStream(
    recordingId: string,
    incarnation: string,
    profile: ProfileName,
    fileName: string,
    range?: { start?: number; end?: number },
  ): Readable | undefined;
  removeIncarnation(recordingId: string, incarnation: string): Promise<number>;
}

export interface RecordingSummary {
  readonly recordingId: string;
  readonly incarnation: string;
  /** Program date-time of the first segment (ms since the epoch). */
  readonly startedAt: number;
  /** End of the last segment (its program date-time plus its duration). */
  readonly endedAt: number;
  /** Media time of the longest rendition (the sum of its segment durations). */
  readonly durationSeconds: number;
  readonly bytes: number;
  /** When its newest file was written (ms since the epoch): what retention's age counts from. */
  readonly lastWrittenAt: number;
  readonly renditions: readonly ProfileName[];
  /** `recording` while its stream is live (not playable, not deletable yet). */
  readonly status: 'recording' | 'complete';
}

export class RecordingNotFoundError extends DistributionError {
  constructor(recordingId: string) {
    super('RECORDING_NOT_FOUND', `no recording '${recordingId}'`, 'recording_id');
  }
}

export class RecordingInProgressError extends DistributionError {
  constructor(recordingId: string) {
    super(
      'RECORDING_IN_PROGRESS',
      `recording '${recordingId}' is being written (its stream is live); it is playable and deletable once the stream ended`,
      'recording_id',
    );
  }
}

export interface RecordingsOptions {
  readonly maxAgeSeconds?: number;
  readonly maxBytes?: number;
  readonly sweepIntervalMs?: number;
  readonly clock?: () => number;
  readonly onError?: (error: unknown) => void;
  readonly onRemoved?: (
    recordingId: string,
    reason: 'age' | 'size' | 'replaced',
    bytes: number,
  ) => void;
}

/** A file of a recording to serve, with what its response needs. */
export interface RecordingObject {
  readonly size: number;
  readonly contentType: string;
  /** Strong ETag: the first 128 bits of the stored SHA-256, as live segments carry. */
  readonly etag: string;
  open(range?: { start: number; end: number }): Readable;
}

export class Recordings {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly files: RecordingFileStore,
    private readonly service: Pick<DistributionService, 'getDistributor' | 'events'>,
    private readonly options: RecordingsOptions = {},
  ) {}

  /** Replaces an id's recording when its stream starts again, and runs retention on a timer. */
  start(): void {
    this.service.events.on('stream_started', ({ recordingId }) => {
      this.removeSuperseded(recordingId).catch((error) => this.options.onError?.(error));
    });
    const every = this.options.sweepIntervalMs ?? RECORDINGS_DEFAULTS.sweepIntervalMs;
    this.timer ??= setInterval(() => {
      this.sweep().catch((error) => this.options.onError?.(error));
    }, every).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Every recording, oldest first. */
  list(): RecordingSummary[] {
    return this.files
      .recordings()
      .map(({ recordingId }) => this.summary(recordingId))
      .filter((r) => r !== undefined)
      .sort((a, b) => a.startedAt - b.startedAt);
  }

  get(recordingId: string): RecordingSummary {
    const summary = this.summary(recordingId);
    if (!summary) throw new RecordingNotFoundError(recordingId);
    return summary;
  }

  /** Deletes a recording whose stream is not live; resolves to the bytes freed. */
  async delete(recordingId: string): Promise<number> {
    const summary = this.get(recordingId);
    if (summary.status === 'recording') throw new RecordingInProgressError(recordingId);
    return this.removeAll(recordingId);
  }

  /** The multivariant playlist of an ended recording. */
  multivariant(recordingId: string): string {
    const files = this.playable(recordingId);
    const stream = this.distributorOf(recordingId, files[0]?.incarnation);
    const renditions = PROFILE_NAMES.filter((profile) =>
      files.some((f) => f.profile === profile && f.meta.kind === 'segment'),
    ).map((profile) => ({
      profile,
      nominalKbps: PROFILES[profile].bitrateKbps,
      segments: files
        .filter((f) => f.profile === profile && f.meta.kind === 'segment')
        .map((f) => ({
          bytes: f.size,
          durationSec: f.meta.kind === 'segment' ? f.meta.durationSec : 0,
        })),
      // What ingest probed, while the ended stream is still held; without it, no CODECS.
      media: stream?.mediaInfo(profile),
      uri: `${profile}/index.m3u8`,
    }));
    return writeVodMultivariantPlaylist(renditions);
  }

  /** A rendition's VOD media playlist, every segment from the first to the last. */
  mediaPlaylist(recordingId: string, profile: ProfileName): string {
    const segments: VodSegment[] = [];
    for (const file of this.playable(recordingId)) {
      const meta = file.meta;
      if (file.profile !== profile || meta.kind !== 'segment') continue;
      segments.push({
        uri: file.fileName,
        sequence: meta.sequence,
        durationSec: meta.durationSec,
        discontinuity: meta.discontinuity,
        programDateTime: meta.programDateTime,
        incarnation: file.incarnation,
        ...(meta.initId !== undefined && { initUri: meta.initId }),
      });
    }
    if (segments.length === 0) throw new RecordingNotFoundError(`${recordingId}/${profile}`);
    return writeVodMediaPlaylist({ segments });
  }

  /** A segment or init section of an ended recording, or undefined. */
  object(recordingId: string, profile: ProfileName, fileName: string): RecordingObject | undefined {
    const incarnation = this.playable(recordingId)[0]?.incarnation;
    if (incarnation === undefined) return undefined;
    const file = this.files.get(recordingId, incarnation, profile, fileName);
    if (!file) return undefined;
    return {
      size: file.size,
      contentType: file.meta.contentType,
      etag: `"${file.sha256.slice(0, 22)}"`,
      open: (range) => {
        const stream = this.files.createReadStream(
          recordingId,
          incarnation,
          profile,
          fileName,
          range,
        );
        if (!stream) throw new RecordingNotFoundError(recordingId);
        return stream;
      },
    };
  }

  /**
   * Retention: removes recordings older than the age limit, then the oldest while the total is
   * over the size limit; never one being written. Runs one at a time.
   */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepNow().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepNow(): Promise<void> {
    for (const { recordingId } of this.files.recordings()) await this.removeSuperseded(recordingId);
    const now = (this.options.clock ?? Date.now)();
    const maxAgeMs = (this.options.maxAgeSeconds ?? RECORDINGS_DEFAULTS.maxAgeSeconds) * 1000;
    const maxBytes = this.options.maxBytes ?? RECORDINGS_DEFAULTS.maxBytes;
    const done = this.list().filter((r) => r.status === 'complete');
    let total = this.list().reduce((sum, r) => sum + r.bytes, 0);
    for (const recording of done) {
      // Counted from its last write, the server's own clock (program date-times are the encoder's).
      const tooOld = maxAgeMs > 0 && now - recording.lastWrittenAt > maxAgeMs;
      const tooBig = maxBytes > 0 && total > maxBytes;
      if (!tooOld && !tooBig) continue;
      // Looked at again: its stream may have started since the list was taken.
      if (this.liveIncarnation(recording.recordingId) !== undefined) continue;
      const freed = await this.removeAll(recording.recordingId);
      total -= freed;
      this.options.onRemoved?.(recording.recordingId, tooOld ? 'age' : 'size', freed);
    }
  }

  /** Deletes every incarnation of an id but its recording (the live one, else the newest). */
  private async removeSuperseded(recordingId: string): Promise<void> {
    const incarnations = this.incarnations(recordingId);
    const keep = this.liveIncarnation(recordingId) ?? incarnations.at(-1);
    for (const incarnation of incarnations) {
      if (incarnation === keep) continue;
      const freed = await this.files.removeIncarnation(recordingId, incarnation);
      this.options.onRemoved?.(recordingId, 'replaced', freed);
    }
  }

  private async removeAll(recordingId: string): Promise<number> {
    let freed = 0;
    for (const incarnation of this.incarnations(recordingId)) {
      freed += await this.files.removeIncarnation(recordingId, incarnation);
    }
    return freed;
  }

  /** Incarnations with files, oldest first. */
  private incarnations(recordingId: string): string[] {
    return [...new Set(this.files.list(recordingId).map((f) => f.incarnation))];
  }

  /** The files of an id's recording, or why it cannot be played. */
  private playable(recordingId: string): RecordedFile[] {
    const summary = this.get(recordingId);
    if (summary.status === 'recording') throw new RecordingInProgressError(recordingId);
    return this.files.list(recordingId).filter((f) => f.incarnation === summary.incarnation);
  }

  /** The id's stream in memory, when it is the given incarnation. */
  private distributorOf(recordingId: string, incarnation: string | undefined) {
    try {
      const distributor = this.service.getDistributor(recordingId);
      return distributor.incarnation === incarnation ? distributor : undefined;
    } catch {
      return undefined;
    }
  }

  /** The incarnation of the id's live stream, if one is live. */
  private liveIncarnation(recordingId: string): string | undefined {
    try {
      const distributor = this.service.getDistributor(recordingId);
      return distributor.status === 'live' ? distributor.incarnation : undefined;
    } catch {
      return undefined;
    }
  }

  private summary(recordingId: string): RecordingSummary | undefined {
    const all = this.files.list(recordingId);
    const live = this.liveIncarnation(recordingId);
    // While a stream of the id is live, its own incarnation is the recording (even before its
    // first file); otherwise the newest one on disk.
    const incarnation = live ?? all.at(-1)?.incarnation;
    const files = all.filter((f) => f.incarnation === incarnation);
    if (incarnation === undefined || files.length === 0) return undefined;
    let startedAt = Infinity;
    let endedAt = -Infinity;
    let bytes = 0;
    let lastWrittenAt = -Infinity;
    const durations = new Map<ProfileName, number>();
    for (const file of files) {
      bytes += file.size;
      const meta = file.meta;
      lastWrittenAt = Math.max(lastWrittenAt, meta.createdAt);
      if (meta.kind !== 'segment') continue;
      startedAt = Math.min(startedAt, meta.programDateTime);
      endedAt = Math.max(endedAt, meta.programDateTime + meta.durationSec * 1000);
      durations.set(file.profile, (durations.get(file.profile) ?? 0) + meta.durationSec);
    }
    if (durations.size === 0) return undefined;
    return {
      recordingId,
      incarnation,
      startedAt,
      endedAt,
      durationSeconds: Math.max(...durations.values()),
      bytes,
      lastWrittenAt,
      renditions: PROFILE_NAMES.filter((p) => durations.has(p)),
      status: live !== undefined ? 'recording' : 'complete',
    };
  }
}

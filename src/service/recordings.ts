import type { Readable } from 'node:stream';
import type { LiveDistributor } from '../core/distributor.js';
import { DistributionError } from '../core/errors.js';
import type { MediaInfo } from '../core/media-info.js';
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

/**
 * What a stored segment's record says, as far as playlists need: the storage layer's record
 * (storage/segment-file-record.ts) extends it.
 */
export interface RecordedSegmentMeta {
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

/** What a stored init section's record says. */
export interface RecordedInitMeta {
  readonly kind: 'init';
  readonly contentType: string;
  readonly createdAt: number;
}

export type RecordedMeta = RecordedSegmentMeta | RecordedInitMeta;

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
  /** Resolves once the recording's writes in flight have finished. */
  settled(recordingId: string): Promise<void>;
  /** What a rendition's media is (codecs, resolution), as stored beside its files. */
  media(recordingId: string, incarnation: string, profile: ProfileName): MediaInfo | undefined;
  /**
   * Stores a rendition's media description beside its files; resolves false (storing nothing)
   * while the rendition has no stored file.
   */
  writeMedia(
    recordingId: string,
    incarnation: string,
    profile: ProfileName,
    media: MediaInfo,
  ): Promise<boolean>;
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
  /** A background task failed: retention, removing a replaced recording, storing a media description. */
  readonly onError?: (error: unknown) => void;
  readonly onRemoved?: (
    recordingId: string,
    reason: 'age' | 'size' | 'replaced' | 'deleted',
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
  /**
   * Streams whose media descriptions are followed, kept until retired so a probe that finishes
   * after the stream ended is still stored when the service lets the stream go.
   */
  private readonly described = new Map<string, LiveDistributor>();
  /**
   * Descriptions being written, by `{recordingId}/{incarnation}/{profile}`: playlists read them
   * here meanwhile (the stream may have left memory while its last write runs).
   */
  private readonly describing = new Map<string, MediaInfo>();

  constructor(
    private readonly files: RecordingFileStore,
    private readonly service: Pick<
      DistributionService,
      'getDistributor' | 'events' | 'onStreamRetired'
    >,
    private readonly options: RecordingsOptions = {},
  ) {}

  /**
   * Replaces an id's recording when its stream starts again, keeps what its renditions' media is
   * beside their files as ingest learns it, and runs retention on a timer.
   */
  start(): void {
    const events = this.service.events;
    events.on('stream_started', ({ recordingId }) => {
      this.removeSuperseded(recordingId).catch((error) => this.options.onError?.(error));
    });
    // Ingest probes a rendition's first segment of every encoder run and tells only the
    // distributor: its description is looked at again with each segment (one comparison of a
    // few fields), when the stream ends, and when it leaves memory.
    events.on('segment_published', ({ recordingId, profile }) => {
      const distributor = this.distributorOf(recordingId);
      if (!distributor) return;
      this.described.set(recordingId, distributor);
      this.storeMedia(distributor, profile);
    });
    events.on('stream_ended', ({ recordingId }) => {
      const distributor = this.distributorOf(recordingId);
      if (distributor) this.storeAllMedia(distributor);
    });
    this.service.onStreamRetired((recordingId) => {
      const distributor = this.described.get(recordingId);
      this.described.delete(recordingId);
      if (distributor) this.storeAllMedia(distributor);
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
    const freed = await this.removeAll(recordingId);
    this.options.onRemoved?.(recordingId, 'deleted', freed);
    return freed;
  }

  /**
   * The multivariant playlist of an ended recording; `variantQuery` (such as `?token=...`) is
   * appended to its variant URIs.
   */
  async multivariant(recordingId: string, variantQuery = ''): Promise<string> {
    const files = await this.settledPlayable(recordingId);
    const incarnation = files[0]?.incarnation;
    const stream = this.incarnationOf(recordingId, incarnation);
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
      // What ingest probed: from the ended stream while memory holds it, else as stored beside
      // the files (a stream retired, a restart); without either, no CODECS nor RESOLUTION.
      media: stream?.mediaInfo(profile) ?? this.storedMedia(recordingId, incarnation, profile),
      uri: `${profile}/index.m3u8${variantQuery}`,
    }));
    return writeVodMultivariantPlaylist(renditions);
  }

  /** A rendition's VOD media playlist, every segment from the first to the last. */
  async mediaPlaylist(recordingId: string, profile: ProfileName): Promise<string> {
    const segments: VodSegment[] = [];
    for (const file of await this.settledPlayable(recordingId)) {
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

  /**
   * The files of an ended recording once the writes still in flight when its stream ended have
   * finished (an encoder's last pushes may be answered after the end), so its playlists, which
   * caches keep, list every segment ingest accepted.
   */
  private async settledPlayable(recordingId: string): Promise<RecordedFile[]> {
    this.playable(recordingId);
    await this.files.settled(recordingId);
    return this.playable(recordingId);
  }

  /** The files of an id's recording, or why it cannot be played. */
  private playable(recordingId: string): RecordedFile[] {
    const summary = this.get(recordingId);
    if (summary.status === 'recording') throw new RecordingInProgressError(recordingId);
    return this.files.list(recordingId).filter((f) => f.incarnation === summary.incarnation);
  }

  /** The id's stream in memory, when it is the given incarnation. */
  private incarnationOf(
    recordingId: string,
    incarnation: string | undefined,
  ): LiveDistributor | undefined {
    const distributor = this.distributorOf(recordingId);
    return distributor?.incarnation === incarnation ? distributor : undefined;
  }

  /** The id's stream in memory, if any. */
  private distributorOf(recordingId: string): LiveDistributor | undefined {
    try {
      return this.service.getDistributor(recordingId);
    } catch {
      return undefined;
    }
  }

  /** A rendition's description as stored, or being stored. */
  private storedMedia(
    recordingId: string,
    incarnation: string | undefined,
    profile: ProfileName,
  ): MediaInfo | undefined {
    if (incarnation === undefined) return undefined;
    return (
      this.describing.get(`${recordingId}/${incarnation}/${profile}`) ??
      this.files.media(recordingId, incarnation, profile)
    );
  }

  private storeAllMedia(distributor: LiveDistributor): void {
    for (const profile of PROFILE_NAMES) this.storeMedia(distributor, profile);
  }

  /**
   * Stores a rendition's media description beside its files when it differs from the stored
   * one. Off the serving path: the write runs after the caller returns, one per rendition at a
   * time; one that stored nothing (no file of the rendition on disk yet) is tried again by the
   * next segment.
   */
  private storeMedia(distributor: LiveDistributor, profile: ProfileName): void {
    const media = distributor.mediaInfo(profile);
    if (media === undefined) return;
    const { recordingId, incarnation } = distributor;
    const key = `${recordingId}/${incarnation}/${profile}`;
    if (this.describing.has(key)) return;
    if (sameMedia(media, this.files.media(recordingId, incarnation, profile))) return;
    this.describing.set(key, media);
    this.files
      .writeMedia(recordingId, incarnation, profile, media)
      .catch((error) =>
        this.options.onError?.(
          new Error(`could not store the media description of ${key}`, { cause: error }),
        ),
      )
      .finally(() => this.describing.delete(key));
  }

  /** The incarnation of the id's live stream, if one is live. */
  private liveIncarnation(recordingId: string): string | undefined {
    const distributor = this.distributorOf(recordingId);
    return distributor?.status === 'live' ? distributor.incarnation : undefined;
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

function sameMedia(a: MediaInfo, b: MediaInfo | undefined): boolean {
  return (
    b !== undefined &&
    a.width === b.width &&
    a.height === b.height &&
    a.frameRate === b.frameRate &&
    a.codecs === b.codecs
  );
}

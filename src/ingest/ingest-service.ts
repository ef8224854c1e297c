import { DistributionError, StreamEndedError } from '../core/errors.js';
import { PROFILE_NAMES, type ProfileName } from '../core/profiles.js';
import { MP4, MPEG_TS } from '../core/segment.js';
import type { DistributionService } from '../service/distribution-service.js';
import { sameSecret } from '../service/secrets.js';
import type { MediaProbe } from './media-probe.js';
import { PlaylistParseError, parsePushedPlaylist } from './pushed-playlist.js';
import { type ReadySegment, SegmentAssembler } from './segment-assembler.js';

export interface IngestOptions {
  /** Key every push must present when its stream has none of its own. */
  readonly publishKey?: string | undefined;
  /** A stream whose encoder pushed nothing for this long is ended. */
  readonly encoderTimeoutMs?: number;
  readonly probe?: MediaProbe | undefined;
  /** Where failures that no request can be told about go (probe errors, late segments). */
  readonly warn?: (message: string, detail?: unknown) => void;
}

export const INGEST_DEFAULTS = {
  encoderTimeoutMs: 10_000,
  maxSegmentBytes: 16 * 1024 * 1024,
} as const;

export class PublishKeyError extends DistributionError {
  constructor(present: boolean) {
    super(
      present ? 'PUBLISH_KEY_INVALID' : 'PUBLISH_KEY_REQUIRED',
      present
        ? 'the publish key does not match this stream'
        : 'this stream needs a publish key (?key= or Authorization: Bearer)',
      'key',
    );
  }
}

export class IngestFileError extends DistributionError {
  constructor(message: string) {
    super('INVALID_INGEST', message, 'file');
  }
}

interface RenditionState {
  readonly assembler: SegmentAssembler;
  epoch: number;
  probedEpoch: number;
}

interface StreamState {
  readonly renditions: Record<ProfileName, RenditionState>;
  /** Sequence base of each encoder run, so restarted encoders stay aligned across renditions. */
  readonly epochBases: number[];
  maxSequence: number;
  lastPushAt: number;
}

export type IngestKind = 'segment' | 'playlist' | 'init' | 'multivariant';

/** What a file name says it is; undefined for anything an encoder has no business pushing. */
export function ingestKind(file: string, profile: ProfileName | undefined): IngestKind | undefined {
  if (profile === undefined) return file.endsWith('.m3u8') ? 'multivariant' : undefined;
  if (file.endsWith('.m3u8')) return 'playlist';
  if (file.endsWith('.ts') || file.endsWith('.m4s')) return 'segment';
  if (file.endsWith('.mp4')) return 'init';
  return undefined;
}

/**
 * Turns what an encoder pushes (ffmpeg's hls muxer with -method PUT) into published segments:
 * pairs segment files with playlist entries, numbers them on one sequence across encoder
 * restarts (marking each restart a discontinuity), probes the media once per run, and ends
 * streams whose encoder went quiet.
 */
export class IngestService {
  private readonly streams = new Map<string, StreamState>();
  private readonly keys = new Map<string, string>();
  private readonly timedOut = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly service: DistributionService,
    private readonly options: IngestOptions = {},
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.endQuietStreams(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Sets the key pushes to this stream must present (from POST /streams/start). */
  setPublishKey(recordingId: string, key: string): void {
    this.keys.set(recordingId, key);
  }

  /** The key pushes to this stream must present, if any. */
  publishKeyFor(recordingId: string): string | undefined {
    return this.keys.get(recordingId) ?? this.options.publishKey;
  }

  /** Throws PublishKeyError unless `presented` matches the stream's (or the server's) key. */
  authorize(recordingId: string, presented: string | undefined): void {
    const expected = this.publishKeyFor(recordingId);
    if (expected === undefined) return;
    if (presented === undefined) throw new PublishKeyError(false);
    if (!sameSecret(presented, expected)) throw new PublishKeyError(true);
  }

  /** Takes one pushed file; returns how many segments it made ready and published. */
  put(
    recordingId: string,
    profile: ProfileName | undefined,
    file: string,
    body: Uint8Array,
  ): number {
    const kind = ingestKind(file, profile);
    if (!kind)
      throw new IngestFileError(
        `cannot ingest '${file}'${profile ? '' : ' outside a profile folder'}`,
      );
    if (kind === 'multivariant') return 0; // VTP Live writes its own from the real media.
    const state = this.stateFor(recordingId);
    const rendition = state.renditions[profile as ProfileName];
    let ready: ReadySegment[];
    if (kind === 'playlist') {
      let parsed: ReturnType<typeof parsePushedPlaylist>;
      try {
        parsed = parsePushedPlaylist(Buffer.from(body).toString('utf8'));
      } catch (error) {
        if (error instanceof PlaylistParseError) throw new IngestFileError(error.message);
        throw error;
      }
      ready = rendition.assembler.addPlaylist(parsed.entries);
    } else if (kind === 'init') {
      ready = rendition.assembler.addInit(file, body);
    } else {
      if (body.byteLength === 0) throw new IngestFileError(`segment '${file}' is empty`);
      ready = rendition.assembler.addSegment(file, body);
    }
    state.lastPushAt = this.service.now();
    for (const segment of ready)
      this.publish(recordingId, profile as ProfileName, state, rendition, segment);
    return ready.length;
  }

  /** An encoder deleting an old file: published segments expire on their own schedule. */
  delete(recordingId: string, profile: ProfileName | undefined, file: string): void {
    if (!ingestKind(file, profile)) throw new IngestFileError(`cannot delete '${file}'`);
    if (profile) this.streams.get(recordingId)?.renditions[profile].assembler.remove(file);
  }

  /** Ends streams whose encoder has pushed nothing for the encoder timeout. */
  endQuietStreams(): void {
    const now = this.service.now();
    const timeout = this.options.encoderTimeoutMs ?? INGEST_DEFAULTS.encoderTimeoutMs;
    for (const [recordingId, state] of this.streams) {
      if (now - state.lastPushAt <= timeout) continue;
      this.streams.delete(recordingId);
      try {
        if (this.service.getDistributor(recordingId).status === 'live') {
          this.service.endLiveStream(recordingId);
          this.timedOut.add(recordingId);
        }
      } catch {
        // The stream was removed meanwhile; nothing to end.
      }
    }
  }

  private stateFor(recordingId: string): StreamState {
    const existing = this.streams.get(recordingId);
    let distributor: ReturnType<DistributionService['getDistributor']> | undefined;
    try {
      distributor = this.service.getDistributor(recordingId);
    } catch {
      distributor = undefined;
    }
    if (!distributor || (distributor.status === 'ended' && this.timedOut.has(recordingId))) {
      // A push to no stream starts one; so does an encoder coming back after its stream timed out.
      this.timedOut.delete(recordingId);
      this.streams.delete(recordingId);
      this.service.startLiveStream(recordingId);
    } else if (distributor.status === 'ended') {
      throw new StreamEndedError(recordingId);
    } else if (existing) {
      return existing;
    }
    const state: StreamState = {
      renditions: Object.fromEntries(
        PROFILE_NAMES.map((p) => [
          p,
          { assembler: new SegmentAssembler(), epoch: 0, probedEpoch: -1 },
        ]),
      ) as Record<ProfileName, RenditionState>,
      epochBases: [this.nextSequence(recordingId)],
      maxSequence: -1,
      lastPushAt: this.service.now(),
    };
    this.streams.set(recordingId, state);
    return state;
  }

  /** One past the newest sequence any rendition of the stream holds. */
  private nextSequence(recordingId: string): number {
    const distributor = this.service.getDistributor(recordingId);
    return Math.max(
      0,
      ...PROFILE_NAMES.map((p) => (distributor.window(p).newest?.sequence ?? -1) + 1),
    );
  }

  private publish(
    recordingId: string,
    profile: ProfileName,
    state: StreamState,
    rendition: RenditionState,
    ready: ReadySegment,
  ): void {
    if (ready.restarted) {
      rendition.epoch++;
      // The first rendition to see a restart opens the new run; the others join it.
      if (state.epochBases.length <= rendition.epoch) {
        state.epochBases.push(state.maxSequence + 1 - ready.encoderSequence);
      }
    }
    const sequence = (state.epochBases[rendition.epoch] ?? 0) + ready.encoderSequence;
    const distributor = this.service.getDistributor(recordingId);
    let initId: string | undefined;
    if (ready.mapFile !== undefined) {
      initId = `init-${rendition.epoch}.mp4`;
      const init = rendition.assembler.init(ready.mapFile);
      if (init && !distributor.window(profile).getInit(initId)) {
        distributor.putInit(profile, { id: initId, data: init, contentType: MP4 });
      }
    }
    const fmp4 = ready.file.endsWith('.m4s');
    try {
      const segment = this.service.addSegmentToStream(recordingId, {
        id: `${sequence}${fmp4 ? '.m4s' : '.ts'}`,
        sequence,
        profile,
        durationSec: ready.durationSec,
        data: ready.data,
        contentType: fmp4 ? MP4 : MPEG_TS,
        discontinuity: ready.discontinuity || ready.restarted,
        initId,
      });
      state.maxSequence = Math.max(state.maxSequence, segment.sequence);
    } catch (error) {
      if (!(error instanceof DistributionError)) throw error;
      this.options.warn?.(
        `dropped segment ${ready.file} of ${recordingId}/${profile}: ${error.message}`,
      );
      return;
    }
    if (rendition.probedEpoch < rendition.epoch && this.options.probe) {
      rendition.probedEpoch = rendition.epoch;
      const init =
        ready.mapFile !== undefined ? rendition.assembler.init(ready.mapFile) : undefined;
      const bytes = init ? Buffer.concat([init, ready.data]) : ready.data;
      this.options
        .probe(bytes)
        .then((info) => distributor.setMediaInfo(profile, info))
        .catch((error: unknown) =>
          this.options.warn?.(`could not probe ${recordingId}/${profile}`, error),
        );
    }
  }
}

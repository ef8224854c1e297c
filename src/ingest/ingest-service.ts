import type { LiveDistributor } from '../core/distributor.js';
import { DistributionError, StreamEndedError } from '../core/errors.js';
import { PROFILE_NAMES, type ProfileName } from '../core/profiles.js';
import { initFileName, MP4, MPEG_TS, type Segment, segmentFileName } from '../core/segment.js';
import { contentTag } from '../service/content-tag.js';
import type { DistributionService } from '../service/distribution-service.js';
import type { SegmentFiles } from '../storage/segment-files.js';
import { IngestBudget } from './ingest-budget.js';
import { type StoredInit, storeInit, storeSegment } from './ingest-files.js';
import type { MediaProbe } from './media-probe.js';
import { PublishAccess } from './publish-access.js';
import { PlaylistParseError, parsePushedPlaylist } from './pushed-playlist.js';
import { type ReadySegment, SegmentAssembler } from './segment-assembler.js';

export interface IngestOptions {
  /** Key every push must present when its stream has none of its own. */
  readonly publishKey?: string | undefined;
  /** A stream whose encoder pushed nothing for this long is ended. */
  readonly encoderTimeoutMs?: number;
  readonly probe?: MediaProbe | undefined;
  /** Where failures that no request can be told about go (probe errors). */
  readonly warn?: (message: string, detail?: unknown) => void;
  /** Abuse bounds of what a push may make the server hold or do (defaults: INGEST_DEFAULTS). */
  readonly limits?: Partial<IngestLimits>;
  /**
   * Where published segments and their init sections are stored (the data directory): a push
   * is answered once what it published is on disk. Without it, ingest keeps them in memory only.
   */
  readonly files?: SegmentFiles | undefined;
}

/** Bounds on pushes: sizes by file kind, upload pace, playlist length, init sections, memory. */
export interface IngestLimits {
  readonly maxSegmentBytes: number;
  readonly maxPlaylistBytes: number;
  readonly maxInitBytes: number;
  /** Segment entries a pushed playlist may list. */
  readonly maxPlaylistEntries: number;
  /** Distinct fMP4 init sections kept per rendition. */
  readonly maxInitSections: number;
  /** Slowest average upload pace once the grace period is over (0: no minimum). */
  readonly minUploadBytesPerSec: number;
  readonly uploadGraceMs: number;
  /** Bytes ingest may hold for one stream, and for all streams together. */
  readonly streamBudgetBytes: number;
  readonly totalBudgetBytes: number;
  /** Probes of one encoder run's media a rendition tries before giving up until the next run. */
  readonly maxProbeAttempts: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

export const INGEST_DEFAULTS = {
  encoderTimeoutMs: 10_000,
  maxSegmentBytes: 16 * MiB,
  maxPlaylistBytes: 256 * KiB,
  maxInitBytes: MiB,
  maxPlaylistEntries: 2000,
  maxInitSections: 4,
  // ffmpeg streams a segment while encoding it: the lowest rendition (500 kbps) still sends
  // ~60 KiB/s, so 8 KiB/s after 5 s cuts only uploads no encoder makes.
  minUploadBytesPerSec: 8 * KiB,
  uploadGraceMs: 5000,
  streamBudgetBytes: 256 * MiB,
  totalBudgetBytes: 2048 * MiB,
  maxProbeAttempts: 5,
  /** How long one ffprobe run may take (ffprobeMedia's default). */
  probeTimeoutMs: 10_000,
} as const satisfies IngestLimits & { encoderTimeoutMs: number; probeTimeoutMs: number };

export class IngestFileError extends DistributionError {
  constructor(message: string) {
    super('INVALID_INGEST', message, 'file');
  }
}

/** A pushed file over the size limit of its kind. */
export class BodyTooLargeError extends DistributionError {
  constructor(kind: IngestKind | undefined, limit: number) {
    super(
      'BODY_TOO_LARGE',
      `a pushed ${kind ? KIND_NAMES[kind] : 'file'} may be at most ${limit} bytes`,
      'body',
    );
  }
}

const KIND_NAMES: Readonly<Record<IngestKind, string>> = {
  segment: 'segment',
  playlist: 'media playlist',
  init: 'init section',
  multivariant: 'playlist',
};

/** A push made segments ready that the stream would not take (out of order, already there, ended). */
export class SegmentRefusedError extends DistributionError {
  constructor(file: string, cause: DistributionError, others: number) {
    super(
      'SEGMENT_REFUSED',
      `segment '${file}' was not published: ${cause.message}${others > 0 ? ` (and ${others} more refused)` : ''}`,
      'file',
    );
  }
}

interface RenditionState {
  readonly assembler: SegmentAssembler;
  epoch: number;
  /** The encoder run whose media has been probed (-1: none yet). */
  probedEpoch: number;
  /** Failed probes of the current run; a later segment tries again up to maxProbeAttempts. */
  probeFailures: number;
  /** The probe running now, if any (a master playlist waits briefly for it). */
  probing: Promise<void> | undefined;
  /** The encoder's EXT-X-TARGETDURATION from its latest media playlist. */
  declaredTargetSec: number | undefined;
  /** The init section segments point at now, and how many this rendition has had. */
  init: { readonly data: Uint8Array; readonly etag: string; readonly id: string } | undefined;
  inits: number;
  /** The current init section's write to disk (with a data directory). */
  storedInit: StoredInit | undefined;
  /**
   * The stream published before this ingest state existed (a restart brought its window back):
   * the rendition's next segment is a discontinuity, whatever the encoder says.
   */
  resumed: boolean;
}

interface StreamState {
  readonly renditions: Record<ProfileName, RenditionState>;
  /** Sequence base of each encoder run, so restarted encoders stay aligned across renditions. */
  readonly epochBases: number[];
  maxSequence: number;
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
  private readonly timedOut = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  /** The stream ingest is restarting right now: its replacement keeps the stream's key. */
  private restarting: string | undefined;
  private readonly forgottenListeners: Array<(recordingId: string) => void> = [];
  private waiting: (recordingId: string, published: boolean) => boolean = () => false;

  /** Who may push to which stream. */
  readonly access = new PublishAccess(this.options.publishKey);
  /** The bounds in force: the options' limits over INGEST_DEFAULTS. */
  readonly limits: IngestLimits = withDefaults(this.options.limits);
  /** Bytes ingest holds (and bodies still arriving) against the stream and server budgets. */
  readonly budget = new IngestBudget(
    { streamBytes: this.limits.streamBudgetBytes, totalBytes: this.limits.totalBudgetBytes },
    { stream: (id) => this.heldBytes(id), total: () => this.heldBytes() },
  );

  constructor(
    private readonly service: DistributionService,
    private readonly options: IngestOptions = {},
  ) {
    service.onStreamRetired((recordingId) => this.forget(recordingId));
  }

  start(): void {
    this.timer ??= setInterval(() => this.endQuietStreams(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Takes one pushed file; resolves how many segments it made ready and published, once they
   * (and the init sections they name) are stored when there is a data directory. Everything up
   * to publishing happens before the first await, so pushes are taken in the order they came.
   */
  async put(
    recordingId: string,
    profile: ProfileName | undefined,
    file: string,
    body: Uint8Array,
  ): Promise<number> {
    const kind = ingestKind(file, profile);
    if (!kind)
      throw new IngestFileError(
        `cannot ingest '${file}'${profile ? '' : ' outside a profile folder'}`,
      );
    if (kind === 'multivariant') return 0; // VTP Live writes its own from the real media.
    const limit = this.maxBytesFor(kind);
    if (body.byteLength > limit) throw new BodyTooLargeError(kind, limit);
    // Checked before anything is kept (playlists keep only their parsed entries).
    if (kind !== 'playlist') this.budget.check(recordingId, body.byteLength);
    const state = this.stateFor(recordingId);
    const rendition = state.renditions[profile as ProfileName];
    let ready: ReadySegment[];
    if (kind === 'playlist') {
      let parsed: ReturnType<typeof parsePushedPlaylist>;
      try {
        parsed = parsePushedPlaylist(
          Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'),
          this.limits.maxPlaylistEntries,
        );
      } catch (error) {
        if (error instanceof PlaylistParseError) throw new IngestFileError(error.message);
        throw error;
      }
      rendition.declaredTargetSec = parsed.targetDurationSec;
      ready = rendition.assembler.addPlaylist(parsed.entries);
    } else if (kind === 'init') {
      ready = rendition.assembler.addInit(file, body);
    } else {
      if (body.byteLength === 0) throw new IngestFileError(`segment '${file}' is empty`);
      ready = rendition.assembler.addSegment(file, body, this.service.now());
    }
    // Publish every ready segment, then tell the pusher about any the stream refused.
    let refused: { file: string; error: DistributionError } | undefined;
    let refusals = 0;
    const stores: Promise<unknown>[] = [];
    for (const segment of ready) {
      try {
        const stored = this.publish(recordingId, profile as ProfileName, state, rendition, segment);
        if (stored) stores.push(stored);
      } catch (error) {
        if (!(error instanceof DistributionError)) throw error;
        refused ??= { file: segment.file, error };
        refusals++;
      }
    }
    // Every write is waited for (none left running unobserved); a failed one is the answer.
    const failed = (await Promise.allSettled(stores)).find((r) => r.status === 'rejected');
    if (failed) {
      this.options.warn?.(`could not store a segment of ${recordingId}/${profile}`, failed.reason);
      throw failed.reason;
    }
    if (refused) throw new SegmentRefusedError(refused.file, refused.error, refusals - 1);
    return ready.length;
  }

  /** Largest body a push of this kind may have. */
  maxBytesFor(kind: IngestKind | undefined): number {
    if (kind === 'segment') return this.limits.maxSegmentBytes;
    if (kind === 'init') return this.limits.maxInitBytes;
    return this.limits.maxPlaylistBytes; // playlists, and what will be refused anyway
  }

  /** Bytes ingest holds for one stream, or for all: published windows, waiting files, inits. */
  heldBytes(recordingId?: string): number {
    if (recordingId !== undefined) {
      let distributor: LiveDistributor | undefined;
      try {
        distributor = this.service.getDistributor(recordingId);
      } catch {
        distributor = undefined; // not started yet: only what its own pushes hold
      }
      return windowBytes(distributor) + assemblerBytes(this.streams.get(recordingId));
    }
    let total = 0;
    for (const distributor of this.service.streamDistributors()) total += windowBytes(distributor);
    for (const state of this.streams.values()) total += assemblerBytes(state);
    return total;
  }

  /** An encoder deleting an old file: published segments expire on their own schedule. */
  delete(recordingId: string, profile: ProfileName | undefined, file: string): void {
    if (!ingestKind(file, profile)) throw new IngestFileError(`cannot delete '${file}'`);
    if (profile) this.streams.get(recordingId)?.renditions[profile].assembler.remove(file);
  }

  /**
   * Ends live streams that got no segment for the encoder timeout (an encoder that went quiet,
   * or a stream started through the API that never got media); a returning encoder restarts them.
   */
  endQuietStreams(): void {
    const timeout = this.options.encoderTimeoutMs ?? INGEST_DEFAULTS.encoderTimeoutMs;
    for (const recordingId of this.service.endQuietStreams(timeout, this.waiting)) {
      this.streams.delete(recordingId);
      this.timedOut.add(recordingId);
    }
  }

  /**
   * Settles when the probes of a stream's media running now have finished (whatever their
   * outcome); undefined when none runs.
   */
  probing(recordingId: string): Promise<void> | undefined {
    const state = this.streams.get(recordingId);
    if (!state) return undefined;
    const running = PROFILE_NAMES.map((p) => state.renditions[p].probing).filter(
      (p): p is Promise<void> => p !== undefined,
    );
    return running.length > 0 ? Promise.all(running).then(() => undefined) : undefined;
  }

  /** Whether the stream is held and live (not ended, not yet started again). */
  isLive(recordingId: string): boolean {
    try {
      return this.service.getDistributor(recordingId).status === 'live';
    } catch {
      return false;
    }
  }

  /** Calls `listener` with every stream that ends (through the API, or gone quiet). */
  onEnded(listener: (recordingId: string) => void): void {
    this.service.events.on('stream_ended', ({ recordingId }) => listener(recordingId));
  }

  /**
   * Streams `waiting` holds (a lecturer connected, or expected: publish-ingest.ts) are not
   * ended for being quiet; `published` says whether the stream has had a segment.
   */
  setWaiting(waiting: (recordingId: string, published: boolean) => boolean): void {
    this.waiting = waiting;
  }

  /** Calls `listener` with every stream whose keys ingest forgot (removed, not restarted). */
  onForgotten(listener: (recordingId: string) => void): void {
    this.forgottenListeners.push(listener);
  }

  /** Forgets everything about a stream the service removed (keys stay across a restart). */
  private forget(recordingId: string): void {
    if (this.restarting === recordingId) return;
    this.streams.delete(recordingId);
    this.timedOut.delete(recordingId);
    this.access.forget(recordingId);
    for (const listener of this.forgottenListeners) listener(recordingId);
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
      this.restarting = recordingId;
      try {
        this.service.startLiveStream(recordingId);
      } finally {
        this.restarting = undefined;
      }
    } else if (distributor.status === 'ended') {
      throw new StreamEndedError(recordingId);
    } else if (existing) {
      return existing;
    }
    const current = this.service.getDistributor(recordingId);
    // Only a stream restored at a restart has published before ingest knew it.
    const resumed = current === distributor && current.nextSequence > 0;
    const state: StreamState = {
      renditions: Object.fromEntries(
        PROFILE_NAMES.map((p) => [
          p,
          {
            assembler: new SegmentAssembler(this.limits.maxInitSections),
            epoch: 0,
            probedEpoch: -1,
            probeFailures: 0,
            probing: undefined,
            declaredTargetSec: undefined,
            init: resumed ? restoredInit(current, p) : undefined,
            inits: resumed ? this.initsStored(current, p) : 0,
            storedInit: undefined,
            resumed,
          } satisfies RenditionState,
        ]),
      ) as Record<ProfileName, RenditionState>,
      // A resumed stream's base is set by its first segment (see publish).
      epochBases: resumed ? [] : [current.nextSequence],
      maxSequence: resumed ? current.nextSequence - 1 : -1,
    };
    this.streams.set(recordingId, state);
    return state;
  }

  private publish(
    recordingId: string,
    profile: ProfileName,
    state: StreamState,
    rendition: RenditionState,
    ready: ReadySegment,
  ): Promise<unknown> | undefined {
    if (ready.restarted) {
      rendition.epoch++;
      rendition.probeFailures = 0;
      // The first rendition to see a restart opens the new run; the others join it.
      if (state.epochBases.length <= rendition.epoch) {
        state.epochBases.push(state.maxSequence + 1 - ready.encoderSequence);
      }
    }
    if (state.epochBases.length === 0) {
      // After a restart the encoder's first segment follows the restored ones, whether the
      // encoder restarted (from 0) or kept running (numbers the server never saw).
      state.epochBases.push(state.maxSequence + 1 - ready.encoderSequence);
    }
    const sequence = (state.epochBases[rendition.epoch] ?? 0) + ready.encoderSequence;
    const resumed = rendition.resumed;
    // Past 2^53 two sequences could round to one number: refuse rather than collide.
    if (!Number.isSafeInteger(sequence)) {
      throw new IngestFileError(
        `sequence of '${ready.file}' would pass ${Number.MAX_SAFE_INTEGER}`,
      );
    }
    const distributor = this.service.getDistributor(recordingId);
    const initId =
      ready.mapFile !== undefined
        ? this.currentInit(distributor, profile, rendition, ready.mapFile)
        : undefined;
    const fmp4 = ready.file.endsWith('.m4s');
    const raisesBefore = distributor.targetDurationRaises;
    const targetBefore = distributor.targetDurationSec;
    // A refusal (out of order, already there, ended) throws: put() tells the pusher.
    const segment = this.service.addSegmentToStream(
      recordingId,
      {
        id: segmentFileName(distributor.incarnation, sequence, fmp4),
        sequence,
        profile,
        durationSec: ready.durationSec,
        data: ready.data,
        contentType: fmp4 ? MP4 : MPEG_TS,
        // After a restart the encoder's timestamps restarted or jumped: players must reset
        // their timeline, and the media timeline dates the segment anew.
        discontinuity: ready.discontinuity || ready.restarted || resumed,
        initId,
        declaredTargetSec: rendition.declaredTargetSec,
      },
      ready.arrivedAt,
    );
    if (distributor.targetDurationRaises > raisesBefore) {
      this.options.warn?.(
        `${recordingId}/${profile}: a ${segment.durationSec} s segment broke the stream's target duration of ${targetBefore} s; raised to ${distributor.targetDurationSec} s`,
      );
    }
    rendition.resumed = false;
    state.maxSequence = Math.max(state.maxSequence, segment.sequence);
    this.probeIfNeeded(recordingId, profile, rendition, ready);
    return this.store(recordingId, distributor, rendition, segment);
  }

  /** Stores a published segment and, first, the init section it names (with a data dir). */
  private store(
    recordingId: string,
    distributor: LiveDistributor,
    rendition: RenditionState,
    segment: Segment,
  ): Promise<unknown> | undefined {
    const files = this.options.files;
    if (!files) return undefined;
    let init: StoredInit | undefined;
    if (segment.initId !== undefined && rendition.init?.id === segment.initId) {
      const { id, data } = rendition.init;
      init = storeInit(
        files,
        recordingId,
        distributor.incarnation,
        segment.profile,
        { id, data, contentType: MP4 },
        segment.createdAt,
        rendition.storedInit,
      );
      rendition.storedInit = init;
    }
    return storeSegment(files, recordingId, distributor.incarnation, segment, init);
  }

  /**
   * How many init sections a restored rendition had numbered (on disk or in its window), so
   * a new one never takes a number whose URL named other bytes.
   */
  private initsStored(distributor: LiveDistributor, profile: ProfileName): number {
    const prefix = initFileName(distributor.incarnation, 0).replace(/0\.mp4$/, '');
    const ids = (this.options.files?.list(distributor.recordingId) ?? [])
      .filter((f) => f.incarnation === distributor.incarnation && f.profile === profile)
      .map((f) => f.fileName);
    const newest = distributor.window(profile).newest?.initId;
    if (newest !== undefined) ids.push(newest);
    let count = 0;
    for (const id of ids) {
      if (!id.startsWith(prefix) || !id.endsWith('.mp4')) continue;
      const n = Number(id.slice(prefix.length, -'.mp4'.length));
      if (Number.isSafeInteger(n) && n >= count) count = n + 1;
    }
    return count;
  }

  /**
   * The id of the init section `mapFile` as it is now: a new id whenever its bytes change, so
   * an init URL never names other bytes either.
   */
  private currentInit(
    distributor: LiveDistributor,
    profile: ProfileName,
    rendition: RenditionState,
    mapFile: string,
  ): string | undefined {
    const data = rendition.assembler.init(mapFile);
    if (!data) return rendition.init?.id;
    const previous = rendition.init;
    const etag = previous?.data === data ? previous.etag : contentTag(data);
    const id =
      previous?.etag === etag
        ? previous.id
        : initFileName(distributor.incarnation, rendition.inits++);
    // Same bytes keep their id (the window may have let it go once no segment named it).
    if (!distributor.window(profile).getInit(id)) {
      distributor.putInit(profile, { id, data, contentType: MP4, etag });
    }
    rendition.init = { data, etag, id };
    return rendition.init.id;
  }

  /**
   * Probes the rendition's media once per encoder run; a failed probe (a bad first segment, say)
   * is tried again on later segments, up to `limits.maxProbeAttempts` per run.
   */
  private probeIfNeeded(
    recordingId: string,
    profile: ProfileName,
    rendition: RenditionState,
    ready: ReadySegment,
  ): void {
    const probe = this.options.probe;
    if (!probe || rendition.probing || rendition.probedEpoch >= rendition.epoch) return;
    const attempts = this.limits.maxProbeAttempts;
    if (rendition.probeFailures >= attempts) return;
    const epoch = rendition.epoch;
    const distributor = this.service.getDistributor(recordingId);
    const init = ready.mapFile !== undefined ? rendition.assembler.init(ready.mapFile) : undefined;
    const bytes = init ? Buffer.concat([init, ready.data]) : ready.data;
    rendition.probing = probe(bytes)
      .then((info) => {
        if (info.codecs === undefined) throw new Error('no stream with a known codec found');
        distributor.setMediaInfo(profile, info);
        rendition.probedEpoch = Math.max(rendition.probedEpoch, epoch);
      })
      .catch((error: unknown) => {
        if (rendition.epoch === epoch) rendition.probeFailures++;
        this.options.warn?.(
          `could not probe ${recordingId}/${profile} (attempt ${rendition.probeFailures} of ${attempts})`,
          error,
        );
      })
      .finally(() => {
        rendition.probing = undefined;
      });
  }
}

/** The init section a restored rendition's newest segment names, kept if the encoder's matches. */
function restoredInit(distributor: LiveDistributor, profile: ProfileName): RenditionState['init'] {
  const window = distributor.window(profile);
  const id = window.newest?.initId;
  const init = id === undefined ? undefined : window.getInit(id);
  if (!init) return undefined;
  return { data: init.data, etag: init.etag ?? contentTag(init.data), id: init.id };
}

/** The options' limits over INGEST_DEFAULTS (an undefined limit keeps its default). */
function withDefaults(limits: Partial<IngestLimits> = {}): IngestLimits {
  const given = Object.entries(limits).filter(([, value]) => value !== undefined);
  return { ...INGEST_DEFAULTS, ...Object.fromEntries(given) };
}

function windowBytes(distributor: LiveDistributor | undefined): number {
  if (!distributor) return 0;
  let bytes = 0;
  for (const profile of PROFILE_NAMES) bytes += distributor.window(profile).bytes;
  return bytes;
}

function assemblerBytes(state: StreamState | undefined): number {
  if (!state) return 0;
  let bytes = 0;
  for (const profile of PROFILE_NAMES) bytes += state.renditions[profile].assembler.heldBytes;
  return bytes;
}

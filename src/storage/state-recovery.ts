import { DISTRIBUTOR_DEFAULTS, type LiveDistributor } from '../core/distributor.js';
import { PROFILE_NAMES, type ProfileName } from '../core/profiles.js';
import type { InitSection, Segment } from '../core/segment.js';
import type { EncoderState, EncoderStatus } from '../ingest/encoder-job.js';
import type { PresetName, ResumedJob, StartEncoder } from '../ingest/encoder-manager.js';
import { LADDER_PRESETS } from '../ingest/ffmpeg-ladder.js';
import type { DistributionService } from '../service/distribution-service.js';
import { verifyPublishKey } from './publish-key-hash.js';
import { sha256Of } from './segment-file-record.js';
import type { SegmentFileMeta, SegmentFiles, StoredFile } from './segment-files.js';
import {
  COUNTER_NAMES,
  type RecorderStore,
  type RestoredSessionInfo,
  streamCounterNames,
} from './state-recorder.js';
import type { EncoderJobRecords, StreamKeyRecords, StreamRecord } from './store.js';

/** The part of PublishAccess recovery gives restored keys to. */
export interface PublishKeyChecks {
  setPublishKeyCheck(recordingId: string, check: (presented: string) => Promise<boolean>): void;
}

export interface RecoveryLog {
  info(detail: Record<string, unknown>, message: string): void;
  warn(detail: Record<string, unknown>, message: string): void;
}

export interface RecoveryResult {
  readonly streams: number;
  readonly sessions: readonly RestoredSessionInfo[];
}

/**
 * Brings the stored state back into a fresh service before it listens (restart recovery):
 * live streams come back live and ended ones ended, each with its incarnation, settings, media
 * sequence, served totals and publish key (as its stored hash, checked at the next push);
 * viewers that had not left come back with their session ids and counters; the service totals
 * resume. An ended stream whose retention has passed is not brought back (the running server
 * would have removed it). Segment windows come back from the segment files afterwards
 * (restoreSegmentWindows, once the files are scanned).
 */
export function recoverState(
  store: RecorderStore,
  service: DistributionService,
  keys: PublishKeyChecks,
  log?: RecoveryLog,
): RecoveryResult {
  const counters = store.readCounters();
  const { streams, sessions } = restoreStreams(store, service, keys, store.listStreams(), log);
  service.resumeTotals({
    segments: counters[COUNTER_NAMES.segmentsServed] ?? 0,
    bytes: counters[COUNTER_NAMES.bytesServed] ?? 0,
  });
  if (streams > 0 || sessions.length > 0) {
    log?.info({ streams, sessions: sessions.length }, 'restored streams and viewer sessions');
  }
  return { streams, sessions };
}

/**
 * Brings stored stream records into the service, as recoverState does for every stored one and
 * rebuildLostStreams for those rebuilt from their files: each with its sessions, counters and
 * publish key; one ended past its retention stays out, one that fails is logged and skipped.
 */
export function restoreStreams(
  store: RecorderStore,
  service: DistributionService,
  keys: PublishKeyChecks,
  records: readonly StreamRecord[],
  log?: RecoveryLog,
): RecoveryResult {
  const now = service.now();
  const counters = store.readCounters();
  const sessions: RestoredSessionInfo[] = [];
  let streams = 0;
  for (const record of records) {
    if (record.endedAt !== undefined && now - record.endedAt > record.settings.retentionMs) {
      continue;
    }
    try {
      sessions.push(...restoreStream(store, service, keys, record, counters));
      streams++;
    } catch (error) {
      log?.warn(
        { recordingId: record.recordingId, reason: (error as Error).message },
        'a stored stream could not be restored',
      );
    }
  }
  return { streams, sessions };
}

function restoreStream(
  store: RecorderStore,
  service: DistributionService,
  keys: PublishKeyChecks,
  record: StreamRecord,
  counters: Record<string, number>,
): RestoredSessionInfo[] {
  const open = store
    .listSessions(record.recordingId)
    .filter((s) => s.incarnation === record.incarnation && s.leftAt === undefined);
  const names = streamCounterNames(record.recordingId, record.incarnation);
  const distributor = service.restoreStream({
    recordingId: record.recordingId,
    incarnation: record.incarnation,
    startedAt: record.startedAt,
    endedAt: record.endedAt,
    maxViewers: record.settings.maxViewers,
    retentionMs: record.settings.retentionMs,
    dvrSeconds: record.settings.dvrSeconds,
    nextSequence: record.nextSequence,
    served: { segments: counters[names.segments] ?? 0, bytes: counters[names.bytes] ?? 0 },
    viewers: open.map((s) => ({
      viewerId: s.viewerId,
      sessionId: s.sessionId,
      currentBitrate: s.currentProfile,
      targetBitrate: s.targetProfile,
      joinedAt: s.joinedAt,
      joinSeq: s.joinSeq,
      lastSeenAt: s.lastSeenAt,
      lastSequence: s.lastSequence,
      segmentsReceived: s.segmentsReceived,
      bytesReceived: s.bytesReceived,
      bufferHealth: s.bufferHealth,
      throughputKbps: s.throughputKbps,
      bitrateHistory: s.bitrateHistory,
      lowBufferEvents: s.lowBufferEvents,
      stalls: s.stalls,
      switchCount: s.switchCount,
      profileMs: s.profileMs,
    })),
  });
  const hash = record.publishKeyHash;
  if (hash !== undefined) {
    keys.setPublishKeyCheck(record.recordingId, (presented) => verifyPublishKey(presented, hash));
  }
  return open.map((s) => ({ session: distributor.session(s.viewerId), record: s }));
}

export interface RestoredWindows {
  /** Segments put back into windows, over every stream and rendition. */
  readonly segments: number;
  /** Stored files within the retention that failed their hash and were left out. */
  readonly damaged: number;
}

/**
 * Restart recovery of the live windows (README, "Segments on disk"): every restored stream gets
 * back the segments of its own incarnation still within its retention, read from their files
 * and hashed as they load (they are few: the window), with the init sections they name, its
 * fixed target duration, each rendition's discontinuity sequence and media description. Older
 * files stay on disk for recordings but not in memory. A damaged file is logged and left out;
 * the numbers it held become a gap (EXT-X-GAP) so the segments after it keep their place. Call
 * after the files are scanned and before the server listens.
 */
export async function restoreSegmentWindows(
  files: SegmentFiles,
  store: Pick<RecorderStore, 'getStream'>,
  service: DistributionService,
  log?: RecoveryLog,
): Promise<RestoredWindows> {
  let segments = 0;
  let damaged = 0;
  const now = service.now();
  for (const distributor of service.streamDistributors()) {
    const record = store.getStream(distributor.recordingId);
    if (record?.incarnation !== distributor.incarnation) continue;
    try {
      const restored = await restoreWindows(files, distributor, record, now, log);
      segments += restored.segments;
      damaged += restored.damaged;
    } catch (error) {
      log?.warn(
        { recordingId: distributor.recordingId, reason: (error as Error).message },
        "a stream's segments could not be restored",
      );
    }
  }
  if (segments > 0 || damaged > 0) {
    log?.info({ segments, damaged }, 'restored live windows from segment files');
  }
  return { segments, damaged };
}

async function restoreWindows(
  files: SegmentFiles,
  distributor: LiveDistributor,
  record: StreamRecord,
  now: number,
  log: RecoveryLog | undefined,
): Promise<RestoredWindows> {
  const { recordingId, incarnation } = distributor;
  const own = files.list(recordingId).filter((f) => f.incarnation === incarnation);
  const kept = own.filter(
    (f) => f.meta.kind === 'segment' && now - f.meta.createdAt <= distributor.retentionMs,
  );
  const segments: Segment[] = [];
  const inits: { profile: ProfileName; init: InitSection }[] = [];
  let damaged = 0;
  const load = async (stored: StoredFile): Promise<Buffer | undefined> => {
    let data: Buffer | undefined;
    let reason = 'not in the index';
    try {
      data = await files.read(recordingId, incarnation, stored.profile, stored.fileName);
    } catch (error) {
      reason = (error as Error).message;
    }
    if (data && sha256Of(data) === stored.sha256) return data;
    if (data) reason = 'bytes do not match their SHA-256';
    damaged++;
    log?.warn(
      { recordingId, incarnation, profile: stored.profile, file: stored.fileName, reason },
      'a stored segment was left out of the restored window',
    );
    return undefined;
  };
  const wantedInits = new Set(
    kept.map((f) => (f.meta.kind === 'segment' ? f.meta.initId : undefined)),
  );
  for (const stored of own) {
    if (stored.meta.kind !== 'init' || !wantedInits.has(stored.fileName)) continue;
    const data = await load(stored);
    if (!data) continue;
    const init = {
      id: stored.fileName,
      data,
      contentType: stored.meta.contentType,
      etag: etagOf(stored),
    };
    inits.push({ profile: stored.profile, init });
  }
  const loadedInits = new Set(inits.map((i) => `${i.profile}/${i.init.id}`));
  // Durations of every recorded number, so a segment left out still leaves a gap of its length.
  const durations = new Map<string, number>();
  for (const f of own) {
    if (f.meta.kind === 'segment')
      durations.set(`${f.profile}/${f.meta.sequence}`, f.meta.durationSec);
  }
  const previous: Partial<Record<ProfileName, number>> = {};
  for (const stored of kept.sort((a, b) => sequenceOf(a) - sequenceOf(b))) {
    const meta = stored.meta;
    if (meta.kind !== 'segment') continue;
    if (meta.initId !== undefined && !loadedInits.has(`${stored.profile}/${meta.initId}`)) {
      damaged++;
      log?.warn(
        { recordingId, incarnation, profile: stored.profile, file: stored.fileName },
        'a stored segment whose init section is missing was left out of the restored window',
      );
      continue;
    }
    const data = await load(stored);
    if (!data) continue;
    const before = previous[stored.profile];
    previous[stored.profile] = meta.sequence;
    segments.push({
      id: stored.fileName,
      sequence: meta.sequence,
      profile: stored.profile,
      durationSec: meta.durationSec,
      data,
      contentType: meta.contentType,
      createdAt: meta.createdAt,
      programDateTime: meta.programDateTime,
      discontinuity: meta.discontinuity,
      discontinuitySequence: meta.discontinuitySequence,
      initId: meta.initId,
      etag: etagOf(stored),
      gapBefore: gapBefore(stored.profile, meta, before, durations),
    });
  }
  distributor.restoreMedia({
    segments,
    inits,
    targetDurationSec: record.targetDurationSec,
    discontinuitySequences: record.discontinuitySequences,
  });
  // What ingest probed before the restart: the live master carries CODECS and RESOLUTION at
  // once, not only after the encoder's next push is probed again.
  for (const profile of PROFILE_NAMES) {
    const media = files.media(recordingId, incarnation, profile);
    if (media) distributor.setMediaInfo(profile, media);
  }
  return { segments: segments.length, damaged };
}

/** The content ETag of a stored file, from the SHA-256 its record holds (as contentTag makes it). */
function etagOf(stored: StoredFile): string {
  return `"${stored.sha256.slice(0, 22)}"`;
}

function sequenceOf(stored: StoredFile): number {
  return stored.meta.kind === 'segment' ? stored.meta.sequence : -1;
}

/**
 * The gap a restored segment follows: its recorded one, or, when a segment before it was left
 * out (damaged), the durations of every number missing since the previous restored segment. A
 * hole longer than a rendition lists as gaps starts the playlist after it, as when it was live.
 */
function gapBefore(
  profile: ProfileName,
  meta: SegmentFileMeta,
  before: number | undefined,
  durations: ReadonlyMap<string, number>,
): readonly number[] | undefined {
  if (before === undefined) return undefined;
  const { sequence, gapBefore: recorded } = meta;
  const missing = sequence - before - 1;
  if (missing === (recorded?.length ?? 0)) return recorded;
  if (missing <= 0 || missing > DISTRIBUTOR_DEFAULTS.maxGapSegments) return undefined;
  const gap: number[] = [];
  for (let s = before + 1; s < sequence; s++) {
    gap.push(durations.get(`${profile}/${s}`) ?? meta.durationSec);
  }
  return gap;
}

/** The part of EncoderManager that starts recorded jobs again. */
export interface EncoderRestarts {
  start(request: StartEncoder, resumed: ResumedJob): EncoderStatus;
}

const ACTIVE_ENCODER_STATES: ReadonlySet<EncoderState> = new Set([
  'starting',
  'running',
  'restarting',
]);

/**
 * Starts the built-in encoder jobs that were running when the server stopped (restart
 * recovery, once it listens: encoders push to its own URL), each with its job id and into its
 * stream, which ingest continues with a discontinuity. A job is dropped (and logged) when its
 * source cannot be unsealed (the key file `vtp.key` is lost or another), its stream has
 * ended, its duration has run out, or it fails to start. Returns how many started.
 */
export function restartEncoderJobs(
  store: EncoderJobRecords,
  service: DistributionService,
  encoders: EncoderRestarts,
  log?: RecoveryLog,
): number {
  let started = 0;
  const now = Date.now();
  for (const job of store.listEncoderJobs()) {
    const detail = { jobId: job.jobId, recordingId: job.recordingId };
    const drop = (reason: string) => {
      log?.warn({ ...detail, reason }, 'a recorded encoder job was not started again');
      store.deleteEncoderJob(job.jobId);
    };
    if (!ACTIVE_ENCODER_STATES.has(job.state)) {
      store.deleteEncoderJob(job.jobId);
      continue;
    }
    if (job.source === undefined) {
      drop(
        'its source cannot be unsealed: the key file vtp.key is missing or not the one it was sealed with',
      );
      continue;
    }
    if (!(job.preset in LADDER_PRESETS)) {
      drop(`unknown preset '${job.preset}'`);
      continue;
    }
    // A stream not yet known is one the job had not pushed to yet: its first push starts it.
    if (hasEnded(service, job.recordingId)) {
      drop('its stream has ended');
      continue;
    }
    if (job.durationSec !== undefined && now - job.startedAt >= job.durationSec * 1000) {
      drop('its duration ran out while the server was down');
      continue;
    }
    try {
      encoders.start(
        {
          recordingId: job.recordingId,
          source: job.source,
          preset: job.preset as PresetName,
          fmp4: job.fmp4,
          durationSec: job.durationSec,
        },
        { jobId: job.jobId, startedAt: job.startedAt },
      );
      started++;
    } catch (error) {
      drop((error as Error).message);
    }
  }
  if (started > 0) log?.info({ encoders: started }, 'restarted built-in encoder jobs');
  return started;
}

function hasEnded(service: DistributionService, recordingId: string): boolean {
  try {
    return service.getDistributor(recordingId).status === 'ended';
  } catch {
    return false;
  }
}

/** The part of publishing recovery gives stored stream keys back to. */
export interface StreamKeyRestores {
  restoreKey(recordingId: string, key: string): void;
}

/**
 * Stream keys kept across a restart: a stream that came back keeps its key (its SRT port is
 * opened anew when publishing starts); the key of a stream that did not, or one that cannot be
 * unsealed (the store has reported it), is dropped.
 */
export function restoreStreamKeys(
  store: StreamKeyRecords,
  service: Pick<DistributionService, 'hasStream'>,
  publishing: StreamKeyRestores,
): void {
  for (const { recordingId, key } of store.listStreamKeys()) {
    if (key !== undefined && service.hasStream(recordingId))
      publishing.restoreKey(recordingId, key);
    else store.deleteStreamKey(recordingId);
  }
}

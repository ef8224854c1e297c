import path from 'node:path';
import { PROFILE_NAMES, PROFILES, type ProfileName } from '../core/profiles.js';
import type { DistributionService } from '../service/distribution-service.js';
import type { ScanProblem, SegmentFiles, StoredFile } from './segment-files.js';
import type { RecorderStore } from './state-recorder.js';
import { type PublishKeyChecks, type RecoveryLog, restoreStreams } from './state-recovery.js';
import type { StreamRecord, StreamSettings } from './store.js';

/**
 * Streams the state database lost, rebuilt from their segment files at start-up (README,
 * "Checked at start"). A stream's row is never deleted in normal operation (a retired stream
 * stays for its attendance report; deleting or replacing a recording removes files, not rows),
 * so a recording on disk whose id has no row is one whose row was lost: a corrupt database moved
 * aside, a damaged write-ahead log, a SIGKILL before the write-behind batch. Without its row a
 * returning encoder would start a new stream, and a new stream replaces the recording of its id:
 * the first half of the lecture would be deleted. A deliberately deleted recording has no files,
 * so nothing here can bring it back.
 */

/** What a rebuilt stream gets for the settings its row held: the server's stream defaults. */
export type RebuildSettings = Pick<StreamSettings, 'maxViewers' | 'retentionMs'>;

export interface RebuiltStream {
  readonly record: StreamRecord;
  /** Live: its last segment was written within the retention, so its encoder may be pushing. */
  readonly live: boolean;
  /** Segment files of its incarnation, over every rendition. */
  readonly segments: number;
}

/** The shortest a target duration can be: the ladder's nominal segment (as the distributor's). */
const NOMINAL_TARGET_SEC = Math.ceil(
  Math.max(...PROFILE_NAMES.map((p) => PROFILES[p].segmentDurationSec)),
);

/**
 * The stream record a recording's files imply (`files` as SegmentFiles.list gives them,
 * incarnations oldest first), from its newest incarnation (the one Recordings serves);
 * undefined when that incarnation has no segment. Started at its first segment's
 * program date-time; its next media sequence follows the highest number any file of the
 * incarnation names, the ones the scan set aside included (`setAside`: a segment is served live
 * before its write finishes, so its URL may be cached and must never name other bytes); the target
 * duration the longest segment needs (at least the nominal one; a larger target the encoder
 * declared is not on disk); each rendition's discontinuity sequence from its newest segment. Live
 * when its last segment was written within `settings.retentionMs` of `now`, else ended at its
 * last segment's end. Its publish key is not on disk: none.
 */
export function streamFromFiles(
  recordingId: string,
  files: readonly StoredFile[],
  setAside: readonly ScanProblem[],
  settings: RebuildSettings,
  now: number,
): RebuiltStream | undefined {
  const incarnation = files.at(-1)?.incarnation;
  const segments = files.filter((f) => f.incarnation === incarnation);
  let startedAt = Infinity;
  let endsAt = -Infinity;
  let lastWrittenAt = -Infinity;
  let highest = -1;
  let target = NOMINAL_TARGET_SEC;
  const newest: Partial<Record<ProfileName, { sequence: number; discontinuitySequence: number }>> =
    {};
  let count = 0;
  for (const file of segments) {
    const meta = file.meta;
    if (meta.kind !== 'segment') continue;
    count++;
    startedAt = Math.min(startedAt, meta.programDateTime);
    endsAt = Math.max(endsAt, meta.programDateTime + meta.durationSec * 1000);
    lastWrittenAt = Math.max(lastWrittenAt, meta.createdAt);
    highest = Math.max(highest, meta.sequence);
    target = Math.max(target, Math.max(1, Math.round(meta.durationSec)));
    const before = newest[file.profile];
    if (!before || meta.sequence > before.sequence) {
      newest[file.profile] = {
        sequence: meta.sequence,
        discontinuitySequence: meta.discontinuitySequence,
      };
    }
  }
  if (incarnation === undefined || count === 0) return undefined;
  for (const sequence of setAsideSequences(setAside, recordingId, incarnation)) {
    highest = Math.max(highest, sequence);
  }
  const live = now - lastWrittenAt <= settings.retentionMs;
  const discontinuitySequences: Partial<Record<ProfileName, number>> = {};
  for (const profile of PROFILE_NAMES) {
    const reached = newest[profile]?.discontinuitySequence;
    if (reached !== undefined) discontinuitySequences[profile] = reached;
  }
  return {
    record: {
      recordingId,
      incarnation,
      startedAt,
      endedAt: live ? undefined : endsAt,
      settings: { maxViewers: settings.maxViewers, retentionMs: settings.retentionMs },
      publishKeyHash: undefined,
      targetDurationSec: target,
      nextSequence: highest + 1,
      discontinuitySequences,
    },
    live,
    segments: count,
  };
}

/** Media sequence numbers named by the files of an incarnation the scan set aside. */
function setAsideSequences(
  problems: readonly ScanProblem[],
  recordingId: string,
  incarnation: string,
): number[] {
  const dir = path.join('segments', recordingId, incarnation);
  const sequences: number[] = [];
  for (const problem of problems) {
    // `segments/{recording_id}/{incarnation}/{profile}/{file}`, relative to the data directory.
    if (path.dirname(path.dirname(problem.path)) !== dir) continue;
    const sequence = sequenceNamed(path.basename(problem.path), incarnation);
    if (sequence !== undefined) sequences.push(sequence);
  }
  return sequences;
}

/**
 * The number in `{incarnation}-{sequence}.ts` (or `.m4s`), or in the temporary name of its
 * unfinished write (`.{name}.{random hex}.tmp`, atomic-write.ts).
 */
function sequenceNamed(name: string, incarnation: string): number | undefined {
  const stored = name.startsWith('.') ? name.slice(1).replace(/\.[0-9a-f]+\.tmp$/, '') : name;
  const prefix = `${incarnation}-`;
  if (!stored.startsWith(prefix)) return undefined;
  const digits = /^(\d+)\.(?:ts|m4s)$/.exec(stored.slice(prefix.length))?.[1];
  const sequence = Number(digits);
  return digits !== undefined && Number.isSafeInteger(sequence) ? sequence : undefined;
}

/** The part of PublishAccess that says whether the server's own key applies to a stream. */
export interface RebuildKeys extends PublishKeyChecks {
  publishKeyFor(recordingId: string): string | undefined;
}

/**
 * Rebuilds the stream of every recording on disk whose id the store has no row for
 * (streamFromFiles), saves it (the next restart finds it like any other) and brings it into the
 * service as restart recovery does (restoreStreams): a live one takes its encoder's next push as
 * a restart of the same stream and incarnation, with a discontinuity, or ends by the encoder
 * timeout; an ended one is kept out of memory past its retention. One warning per stream. Call
 * after the files are scanned, before retention runs and before the windows are restored.
 */
export function rebuildLostStreams(
  files: Pick<SegmentFiles, 'recordings' | 'list'>,
  setAside: readonly ScanProblem[],
  store: RecorderStore,
  service: DistributionService,
  keys: RebuildKeys,
  settings: RebuildSettings,
  log?: RecoveryLog,
): RebuiltStream[] {
  const now = service.now();
  const rebuilt: RebuiltStream[] = [];
  for (const { recordingId } of files.recordings()) {
    if (store.getStream(recordingId) !== undefined) continue;
    const stream = streamFromFiles(recordingId, files.list(recordingId), setAside, settings, now);
    if (!stream) continue;
    store.saveStream(stream.record);
    rebuilt.push(stream);
    const { incarnation, nextSequence, endedAt } = stream.record;
    log?.warn(
      {
        recordingId,
        incarnation,
        status: stream.live ? 'live' : 'ended',
        segments: stream.segments,
        nextSequence,
        ...(endedAt !== undefined && { endedAt: new Date(endedAt).toISOString() }),
        ...(stream.live && {
          publishKey:
            keys.publishKeyFor(recordingId) === undefined
              ? 'its own publish key, if it had one, is lost with the database: pushes to it need no key now (the server has none)'
              : "its own publish key, if it had one, is lost with the database: pushes to it need the server's publish key now",
        }),
      },
      'stream rebuilt from its segment files (the state database had lost it)',
    );
  }
  restoreStreams(
    store,
    service,
    keys,
    rebuilt.map((s) => s.record),
    log,
  );
  return rebuilt;
}

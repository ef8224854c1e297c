import { PROFILE_NAMES, type ProfileName } from '../core/profiles.js';
import type { EncoderState } from '../ingest/encoder-job.js';
import type { QueuedStreamUpdate } from './pending-writes.js';
import type {
  EncoderJobRecord,
  EncoderSource,
  SessionRecord,
  StoredEncoderJob,
  StoredStreamKey,
  StreamRecord,
} from './store.js';

/**
 * Records to SQLite parameters and rows back to records. SQLite binds numbers, strings and null
 * only: booleans become 0/1, undefined becomes null, lists and maps JSON text. A row that does
 * not read back as a record (damaged content, which PRAGMA quick_check cannot see) throws
 * RowError, so the reader can skip it and say which.
 */

export class RowError extends Error {}

type Params = Record<string, string | number | null>;
type Row = Record<string, unknown>;

const PROFILES = new Set<string>(PROFILE_NAMES);

function nullable<T>(value: T | undefined): T | null {
  return value === undefined ? null : value;
}

function json(value: unknown): string {
  return JSON.stringify(value);
}

export function streamParams(record: StreamRecord): Params {
  return {
    recordingId: record.recordingId,
    incarnation: record.incarnation,
    startedAt: record.startedAt,
    endedAt: nullable(record.endedAt),
    settings: json(record.settings),
    publishKeyHash: nullable(record.publishKeyHash),
    targetDurationSec: nullable(record.targetDurationSec),
    nextSequence: record.nextSequence,
    discontinuitySequences: json(record.discontinuitySequences),
  };
}

/** Parameters of the UPDATE, where null keeps the stored value (COALESCE). */
export function streamUpdateParams(recordingId: string, update: QueuedStreamUpdate): Params {
  return {
    recordingId,
    endedAt: nullable(update.endedAt),
    settings: update.settings === undefined ? null : json(update.settings),
    publishKeyHash: nullable(update.publishKeyHash),
    targetDurationSec: nullable(update.targetDurationSec),
    nextSequence: nullable(update.nextSequence),
    discontinuitySequences:
      update.discontinuitySequences === undefined ? null : json(update.discontinuitySequences),
  };
}

/** The sessions table's columns, in the order sessionParams gives their values. */
export const SESSION_COLUMNS = [
  'session_id',
  'recording_id',
  'incarnation',
  'viewer_id',
  'anonymous',
  'join_seq',
  'joined_at',
  'left_at',
  'leave_reason',
  'last_seen_at',
  'current_profile',
  'target_profile',
  'last_sequence',
  'segments_received',
  'bytes_received',
  'buffer_health',
  'throughput_kbps',
  'low_buffer_events',
  'stalls',
  'profile_ms',
  'bitrate_history',
  'quality_history',
  'switch_count',
] as const;

export function sessionParams(sessionId: string, s: SessionRecord): (string | number | null)[] {
  return [
    sessionId,
    s.recordingId,
    s.incarnation,
    s.viewerId,
    s.anonymous ? 1 : 0,
    s.joinSeq,
    s.joinedAt,
    nullable(s.leftAt),
    nullable(s.leaveReason),
    s.lastSeenAt,
    s.currentProfile,
    s.targetProfile,
    s.lastSequence,
    s.segmentsReceived,
    s.bytesReceived,
    s.bufferHealth,
    s.throughputKbps,
    s.lowBufferEvents,
    s.stalls,
    json(s.profileMs),
    json(s.bitrateHistory),
    json(s.qualityHistory),
    s.switchCount,
  ];
}

export function encoderJobParams(record: EncoderJobRecord, sourceSealed: string): Params {
  return {
    jobId: record.jobId,
    recordingId: record.recordingId,
    sourceSealed,
    preset: record.preset,
    fmp4: record.fmp4 ? 1 : 0,
    durationSec: nullable(record.durationSec),
    state: record.state,
    startedAt: record.startedAt,
  };
}

function text(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw new RowError(`${column} is not text`);
  return value;
}

function num(row: Row, column: string): number {
  const value = row[column];
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new RowError(`${column} is not a number`);
  return value;
}

function optional<T>(
  row: Row,
  column: string,
  read: (row: Row, column: string) => T,
): T | undefined {
  return row[column] === null ? undefined : read(row, column);
}

function parsed<T>(row: Row, column: string, check: (value: unknown) => boolean): T {
  let value: unknown;
  try {
    value = JSON.parse(text(row, column));
  } catch {
    throw new RowError(`${column} is not JSON`);
  }
  if (!check(value)) throw new RowError(`${column} has the wrong shape`);
  return value as T;
}

const isObject = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function profile(row: Row, column: string): ProfileName {
  const value = text(row, column);
  if (!PROFILES.has(value)) throw new RowError(`${column} is not a profile`);
  return value as ProfileName;
}

export function streamFromRow(row: Row): StreamRecord {
  return {
    recordingId: text(row, 'recording_id'),
    incarnation: text(row, 'incarnation'),
    startedAt: num(row, 'started_at'),
    endedAt: optional(row, 'ended_at', num),
    settings: parsed(row, 'settings', isObject),
    publishKeyHash: optional(row, 'publish_key_hash', text),
    targetDurationSec: optional(row, 'target_duration_sec', num),
    nextSequence: num(row, 'next_sequence'),
    discontinuitySequences: parsed(row, 'discontinuity_sequences', isObject),
  };
}

export function sessionFromRow(row: Row): SessionRecord {
  return {
    sessionId: text(row, 'session_id'),
    recordingId: text(row, 'recording_id'),
    incarnation: text(row, 'incarnation'),
    viewerId: text(row, 'viewer_id'),
    anonymous: num(row, 'anonymous') !== 0,
    joinSeq: num(row, 'join_seq'),
    joinedAt: num(row, 'joined_at'),
    leftAt: optional(row, 'left_at', num),
    leaveReason: optional(row, 'leave_reason', text),
    lastSeenAt: num(row, 'last_seen_at'),
    currentProfile: profile(row, 'current_profile'),
    targetProfile: profile(row, 'target_profile'),
    lastSequence: num(row, 'last_sequence'),
    segmentsReceived: num(row, 'segments_received'),
    bytesReceived: num(row, 'bytes_received'),
    bufferHealth: num(row, 'buffer_health'),
    throughputKbps: num(row, 'throughput_kbps'),
    lowBufferEvents: num(row, 'low_buffer_events'),
    stalls: num(row, 'stalls'),
    profileMs: parsed(row, 'profile_ms', isObject),
    bitrateHistory: parsed(row, 'bitrate_history', Array.isArray),
    qualityHistory: parsed(row, 'quality_history', Array.isArray),
    switchCount: num(row, 'switch_count'),
  };
}

/** The job of `row`; `openSource` unseals its source (undefined when it cannot). */
export function encoderJobFromRow(
  row: Row,
  openSource: (sealed: string) => EncoderSource | undefined,
): StoredEncoderJob {
  return {
    jobId: text(row, 'job_id'),
    recordingId: text(row, 'recording_id'),
    source: openSource(text(row, 'source_sealed')),
    preset: text(row, 'preset'),
    fmp4: num(row, 'fmp4') !== 0,
    durationSec: optional(row, 'duration_sec', num),
    state: text(row, 'state') as EncoderState,
    startedAt: num(row, 'started_at'),
  };
}

/** The stream key of `row`; `openKey` unseals it (undefined when it cannot). */
export function streamKeyFromRow(
  row: Row,
  openKey: (recordingId: string, sealed: string) => string | undefined,
): StoredStreamKey {
  const recordingId = text(row, 'recording_id');
  return { recordingId, key: openKey(recordingId, text(row, 'key_sealed')) };
}

import { PROFILE_NAMES, type ProfileName } from '../core/profiles.js';
import { inferConnectionQuality } from '../core/quality.js';
import { rfc3339 } from '../core/timestamp.js';
import type { SessionRecord, StreamRecord } from '../storage/store.js';

/**
 * The attendance report of one stream (issue 9): who watched, for how long, and how well. Pure:
 * the route reads the records from the store and renders this object as JSON or CSV.
 *
 * Definitions (the README's report section repeats them):
 * - A row is one attendance: a viewer that left and joined again has one row per visit. Rows
 *   carry the viewer id, never the session id (a session id is a bearer credential).
 * - Presence is [joined, left), or [joined, end of stream) while still joined, clipped to the
 *   stream's life [started, ended or now]. It includes the idle wait before an idle expiry, as
 *   the viewer held a seat until then; peak and average viewers count presence.
 * - Watch time is from joining to the viewer's last request (lastSeenAt): the idle wait that
 *   precedes an idle expiry, or the time since the last request of a viewer still joined, is not
 *   watching.
 * - A low-buffer event is buffer health falling under 20 (counted as it crosses, not per report).
 *   A stall is a run of requests carrying CMCD `bs` (buffer starvation), counted once.
 * - Stall ratio is stalls per minute of watch time, across all viewers; null when nobody
 *   watched. CMCD `bs` says the buffer ran dry, not for how long, so a share of time stalled
 *   cannot be computed.
 */

export type SecondsPerProfile = Record<ProfileName, number>;

export interface QualityPoint {
  readonly at: string;
  readonly buffer_health: number;
  readonly throughput_kbps: number;
  readonly connection_quality: ReturnType<typeof inferConnectionQuality>;
}

export interface ViewerAttendance {
  readonly viewer_id: string;
  readonly anonymous: boolean;
  readonly joined_at: string;
  /** null while the viewer is still joined. */
  readonly left_at: string | null;
  /** 'left' | 'idle' | 'stream_removed' (LeaveReason); null while still joined. */
  readonly leave_reason: string | null;
  readonly last_seen_at: string;
  readonly watch_seconds: number;
  readonly segments_received: number;
  readonly bytes_received: number;
  readonly seconds_per_profile: SecondsPerProfile;
  /** Each profile's share of the time at any profile, 0 to 1; all 0 when none was recorded. */
  readonly profile_share: SecondsPerProfile;
  /** Rendition changes, all of them (the stored history keeps only the newest). */
  readonly switches: number;
  readonly low_buffer_events: number;
  readonly stalls: number;
  readonly connection_quality: readonly QualityPoint[];
}

export interface AttendanceSummary {
  /** Distinct viewer ids. */
  readonly viewers: number;
  /** Rows: joins, counting each return of a viewer. */
  readonly joins: number;
  readonly peak_viewers: number;
  /** Time-weighted mean of viewers present over the stream's life. */
  readonly average_viewers: number;
  readonly total_watch_seconds: number;
  /** Total watch time per distinct viewer (a viewer's visits add up); 0 without viewers. */
  readonly average_watch_seconds: number;
  readonly seconds_per_profile: SecondsPerProfile;
  readonly profile_share: SecondsPerProfile;
  readonly low_buffer_events: number;
  readonly stalls: number;
  /** Stalls per minute of watch time; null when nobody watched. */
  readonly stall_ratio: number | null;
}

export interface AttendanceReport {
  readonly recording_id: string;
  readonly started_at: string;
  /** null while the stream is live. */
  readonly ended_at: string | null;
  readonly generated_at: string;
  readonly summary: AttendanceSummary;
  readonly viewers: readonly ViewerAttendance[];
}

/** Rounds to `digits` decimals so reports show no float noise (1e-3 s is the clock's unit). */
function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

const seconds = (ms: number): number => round(ms / 1000, 3);

function perProfile(pick: (name: ProfileName) => number): SecondsPerProfile {
  const out = {} as SecondsPerProfile;
  for (const name of PROFILE_NAMES) out[name] = pick(name);
  return out;
}

function shares(ms: Readonly<Partial<Record<ProfileName, number>>>): SecondsPerProfile {
  let total = 0;
  for (const name of PROFILE_NAMES) total += ms[name] ?? 0;
  return perProfile((name) => (total > 0 ? round((ms[name] ?? 0) / total, 4) : 0));
}

/** Join to last request; never negative (a record whose clock went back counts as 0). */
export function watchMs(session: SessionRecord): number {
  return Math.max(0, session.lastSeenAt - session.joinedAt);
}

function viewerAttendance(session: SessionRecord): ViewerAttendance {
  return {
    viewer_id: session.viewerId,
    anonymous: session.anonymous,
    joined_at: rfc3339(session.joinedAt),
    left_at: session.leftAt === undefined ? null : rfc3339(session.leftAt),
    leave_reason: session.leftAt === undefined ? null : (session.leaveReason ?? null),
    last_seen_at: rfc3339(session.lastSeenAt),
    watch_seconds: seconds(watchMs(session)),
    segments_received: session.segmentsReceived,
    bytes_received: session.bytesReceived,
    seconds_per_profile: perProfile((name) => seconds(session.profileMs[name] ?? 0)),
    profile_share: shares(session.profileMs),
    switches: session.switchCount,
    low_buffer_events: session.lowBufferEvents,
    stalls: session.stalls,
    connection_quality: session.qualityHistory.map((sample) => ({
      at: rfc3339(sample.at),
      buffer_health: sample.bufferHealth,
      throughput_kbps: Math.round(sample.throughputKbps),
      connection_quality: inferConnectionQuality(sample.bufferHealth),
    })),
  };
}

interface Interval {
  readonly from: number;
  readonly to: number;
}

/**
 * Most viewers present at once. Intervals are half-open, so a viewer leaving at t and another
 * joining at t are not counted together; a zero-length visit still counts at its instant.
 */
export function peakConcurrent(intervals: readonly Interval[]): number {
  // [time, order, delta]: at one instant, leaves (0) come before joins (1), and the leave of a
  // zero-length visit (2) after its own join.
  const events: [number, number, number][] = [];
  for (const { from, to } of intervals) {
    events.push([from, 1, 1], [to, to === from ? 2 : 0, -1]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let present = 0;
  let peak = 0;
  for (const [, , delta] of events) {
    present += delta;
    if (present > peak) peak = present;
  }
  return peak;
}

/**
 * Builds the report of `stream` from its sessions. `sessions` may hold every incarnation of the
 * recording id (SessionRecords.listSessions does): only this incarnation's are reported, since a
 * reused id is another lecture. `now` ends the life of a stream still live.
 */
export function attendanceReport(
  stream: StreamRecord,
  sessions: readonly SessionRecord[],
  now: number,
): AttendanceReport {
  const own = sessions
    .filter((s) => s.recordingId === stream.recordingId && s.incarnation === stream.incarnation)
    .sort((a, b) => a.joinSeq - b.joinSeq || a.joinedAt - b.joinedAt);

  const lifeStart = stream.startedAt;
  const lifeEnd = Math.max(lifeStart, stream.endedAt ?? now);
  const presence: Interval[] = own.map((s) => {
    const from = Math.min(lifeEnd, Math.max(lifeStart, s.joinedAt));
    const to = Math.max(from, Math.min(lifeEnd, s.leftAt ?? lifeEnd));
    return { from, to };
  });
  const presentMs = presence.reduce((sum, { from, to }) => sum + (to - from), 0);
  const lifeMs = lifeEnd - lifeStart;

  const profileMs: Partial<Record<ProfileName, number>> = {};
  let totalWatchMs = 0;
  let lowBufferEvents = 0;
  let stalls = 0;
  for (const s of own) {
    totalWatchMs += watchMs(s);
    lowBufferEvents += s.lowBufferEvents;
    stalls += s.stalls;
    for (const name of PROFILE_NAMES) {
      profileMs[name] = (profileMs[name] ?? 0) + (s.profileMs[name] ?? 0);
    }
  }
  const viewers = new Set(own.map((s) => s.viewerId)).size;

  return {
    recording_id: stream.recordingId,
    started_at: rfc3339(stream.startedAt),
    ended_at: stream.endedAt === undefined ? null : rfc3339(stream.endedAt),
    generated_at: rfc3339(now),
    summary: {
      viewers,
      joins: own.length,
      peak_viewers: peakConcurrent(presence),
      average_viewers: lifeMs > 0 ? round(presentMs / lifeMs, 3) : 0,
      total_watch_seconds: seconds(totalWatchMs),
      average_watch_seconds: viewers > 0 ? seconds(totalWatchMs / viewers) : 0,
      seconds_per_profile: perProfile((name) => seconds(profileMs[name] ?? 0)),
      profile_share: shares(profileMs),
      low_buffer_events: lowBufferEvents,
      stalls,
      stall_ratio: totalWatchMs > 0 ? round(stalls / (totalWatchMs / 60_000), 4) : null,
    },
    viewers: own.map(viewerAttendance),
  };
}

import type { SessionRecord, StreamRecord } from '../../src/storage/store.js';

/** When the lecture of these fixtures starts. */
export const T0 = Date.UTC(2024, 0, 15, 10, 0, 0);

/** `seconds` after T0, in ms since the epoch. */
export const s = (seconds: number) => T0 + seconds * 1000;

/** A 10-minute lecture that ended at `s(600)`. */
export function streamRecord(over: Partial<StreamRecord> = {}): StreamRecord {
  return {
    recordingId: 'lecture-1',
    incarnation: 'inc-now',
    startedAt: T0,
    endedAt: s(600),
    settings: { maxViewers: 100, retentionMs: 60_000 },
    publishKeyHash: undefined,
    targetDurationSec: 2,
    nextSequence: 300,
    discontinuitySequences: {},
    ...over,
  };
}

let seq = 0;

/** A viewer's session of that lecture, counters at zero; each gets its own ids. */
export function sessionRecord(over: Partial<SessionRecord>): SessionRecord {
  seq++;
  return {
    sessionId: `vs-SECRETSESSION-${seq}`,
    recordingId: 'lecture-1',
    incarnation: 'inc-now',
    viewerId: `viewer-${seq}`,
    anonymous: false,
    joinSeq: seq,
    joinedAt: T0,
    leftAt: undefined,
    leaveReason: undefined,
    lastSeenAt: T0,
    currentProfile: 'Low',
    targetProfile: 'Low',
    lastSequence: -1,
    segmentsReceived: 0,
    bytesReceived: 0,
    bufferHealth: 50,
    throughputKbps: 0,
    lowBufferEvents: 0,
    stalls: 0,
    switchCount: 0,
    profileMs: {},
    bitrateHistory: [],
    qualityHistory: [],
    ...over,
  };
}

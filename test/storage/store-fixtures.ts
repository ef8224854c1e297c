import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { EncoderJobRecord, SessionRecord, StreamRecord } from '../../src/storage/store.js';

/** A fresh directory under the system's temp folder, removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'vtp-store-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function streamRecord(overrides: Partial<StreamRecord> = {}): StreamRecord {
  return {
    recordingId: 'lecture-1',
    incarnation: 'inc-a',
    startedAt: 1_000,
    endedAt: undefined,
    settings: { maxViewers: 40, retentionMs: 30_000, dvrSeconds: 600 },
    publishKeyHash: 'scrypt$14$8$1$c2FsdA==$aGFzaA==',
    targetDurationSec: 2,
    nextSequence: 17,
    discontinuitySequences: { Low: 1, High: 2 },
    ...overrides,
  };
}

export function sessionRecord(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    sessionId: 'vs-1',
    recordingId: 'lecture-1',
    incarnation: 'inc-a',
    viewerId: 'student-1',
    anonymous: false,
    joinSeq: 0,
    joinedAt: 2_000,
    leftAt: undefined,
    leaveReason: undefined,
    lastSeenAt: 9_000,
    currentProfile: 'Medium',
    targetProfile: 'High',
    lastSequence: 12,
    segmentsReceived: 7,
    bytesReceived: 7_340_032,
    bufferHealth: 62.5,
    throughputKbps: 4_200.25,
    lowBufferEvents: 2,
    stalls: 1,
    switchCount: 3,
    profileMs: { Low: 4_000, Medium: 10_000 },
    bitrateHistory: [{ from: 'Low', to: 'Medium', at: 6_000, reason: 'adaptation' }],
    qualityHistory: [{ at: 5_000, bufferHealth: 18, throughputKbps: 900 }],
    ...overrides,
  };
}

export function encoderJobRecord(overrides: Partial<EncoderJobRecord> = {}): EncoderJobRecord {
  return {
    jobId: 'enc-1',
    recordingId: 'lecture-1',
    source: { type: 'url', url: 'rtmp://camera:s3cr3t-pass@10.0.0.5/live/stream-key-xyz' },
    preset: 'full',
    fmp4: true,
    durationSec: undefined,
    state: 'running',
    startedAt: 3_000,
    ...overrides,
  };
}

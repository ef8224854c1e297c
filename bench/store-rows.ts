/**
 * The state store's cost on the serving path (issue 9): recording a viewer session update is a
 * queued write, applied in a batch later, off the request. Measured against a bare Map.set of
 * the same snapshot function in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../src/storage/sqlite-store.js';
import { type SessionRecord, STORAGE_DEFAULTS } from '../src/storage/store.js';
import { type Measurement, measure } from './measure.js';

interface Row {
  readonly op: string;
  readonly n: number;
  readonly m: Measurement;
  readonly baseline: Measurement;
}

function sessionRecord(sessionId: string, i: number): SessionRecord {
  return {
    sessionId,
    recordingId: 'bench',
    incarnation: 'bench-inc',
    viewerId: `viewer-${i}`,
    anonymous: false,
    joinSeq: i,
    joinedAt: 1_000,
    leftAt: undefined,
    leaveReason: undefined,
    lastSeenAt: 2_000 + i,
    currentProfile: 'Medium',
    targetProfile: 'Medium',
    lastSequence: 40,
    segmentsReceived: 40,
    bytesReceived: 40 * 1_048_576,
    bufferHealth: 64,
    throughputKbps: 5_200,
    lowBufferEvents: 1,
    stalls: 0,
    switchCount: 1,
    profileMs: { Low: 8_000, Medium: 72_000 },
    bitrateHistory: [{ from: 'Low', to: 'Medium', at: 9_000, reason: 'adaptation' }],
    qualityHistory: [{ at: 10_000, bufferHealth: 64, throughputKbps: 5_200 }],
  };
}

export function storeSessionRows(): Row[] {
  // Below maxQueued, so no round applies the queue inside its timing: the enqueue alone.
  const n = Math.min(5_000, STORAGE_DEFAULTS.maxQueued - 1);
  const ids = Array.from({ length: n }, (_, i) => `vs-${i}`);
  const snapshots = ids.map((id, i) => () => sessionRecord(id, i));
  const dir = mkdtempSync(path.join(tmpdir(), 'vtp-bench-store-'));
  const store = new SqliteStore(path.join(dir, STORAGE_DEFAULTS.fileName));
  const mapSet = measure(
    'map set',
    n,
    () => new Map<string, () => SessionRecord>(),
    (m, i) => m.set(ids[i] as string, snapshots[i] as () => SessionRecord),
  );
  try {
    return [
      {
        op: 'store session update (enqueue)',
        n,
        m: measure(
          'enqueue',
          n,
          () => {
            store.flush(); // the previous round's batch, outside the timing
            return store;
          },
          (s, i) => s.saveSession(ids[i] as string, snapshots[i] as () => SessionRecord),
        ),
        baseline: mapSet,
      },
      {
        // Not on a request: what the event loop spends per update once the batch is written.
        op: 'store session update + batch write (SQLite)',
        n,
        m: measure(
          'enqueue + flush',
          n,
          () => store,
          (s, i) => {
            s.saveSession(ids[i] as string, snapshots[i] as () => SessionRecord);
            if (i === n - 1) s.flush();
          },
        ),
        baseline: mapSet,
      },
    ];
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

import type { DistributionService } from '../service/distribution-service.js';
import { verifyPublishKey } from './publish-key-hash.js';
import {
  COUNTER_NAMES,
  type RecorderStore,
  type RestoredSessionInfo,
  streamCounterNames,
} from './state-recorder.js';
import type { StreamRecord } from './store.js';

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
 * would have removed it). Segment windows start empty.
 */
export function recoverState(
  store: RecorderStore,
  service: DistributionService,
  keys: PublishKeyChecks,
  log?: RecoveryLog,
): RecoveryResult {
  const now = service.now();
  const counters = store.readCounters();
  const sessions: RestoredSessionInfo[] = [];
  let streams = 0;
  for (const record of store.listStreams()) {
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
  service.resumeTotals({
    segments: counters[COUNTER_NAMES.segmentsServed] ?? 0,
    bytes: counters[COUNTER_NAMES.bytesServed] ?? 0,
  });
  if (streams > 0 || sessions.length > 0) {
    log?.info({ streams, sessions: sessions.length }, 'restored streams and viewer sessions');
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
    })),
  });
  const hash = record.publishKeyHash;
  if (hash !== undefined) {
    keys.setPublishKeyCheck(record.recordingId, (presented) => verifyPublishKey(presented, hash));
  }
  return open.map((s) => ({ session: distributor.session(s.viewerId), record: s }));
}

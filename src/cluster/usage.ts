import type { LiveDistributor } from '../core/distributor.js';
import type { ProfileName } from '../core/profiles.js';
import type { ViewerSession } from '../core/viewer-session.js';
import type { SessionRef } from '../service/distribution-service.js';

/** What a player reported about itself on a request (decoded CMCD), as HlsDelivery applies it. */
export interface UsageReport {
  readonly bufferLengthMs?: number | undefined;
  readonly throughputKbps?: number | undefined;
  readonly bufferStarvation?: boolean | undefined;
}

/**
 * One thing a worker served that the primary accounts, with the time of the request: the
 * primary applies it as its own HLS delivery would have when serving the request itself.
 */
export type UsageOp =
  /** A segment response sent in full (bytes of a range, or the whole segment). */
  | {
      readonly kind: 'fetch';
      readonly recordingId: string;
      readonly incarnation: string;
      /** The seated session the request named; undefined for one that named none. */
      readonly sessionId: string | undefined;
      readonly profile: ProfileName;
      readonly sequence: number;
      readonly bytes: number;
      readonly whole: boolean;
      /** Throughput measured on the response (kbit/s), when it was large enough to tell. */
      readonly sampleKbps: number | undefined;
      readonly report: UsageReport;
      readonly at: number;
    }
  /** A playlist request of a seated session. */
  | {
      readonly kind: 'report';
      readonly recordingId: string;
      readonly incarnation: string;
      readonly sessionId: string;
      /** The rendition the request stands for (a media playlist behind a CDN). */
      readonly observed: ProfileName | undefined;
      readonly report: UsageReport;
      readonly at: number;
    };

/** The fields of a client report a worker forwards (not its session or address). */
export function usageReport(report: UsageReport): UsageReport {
  return {
    bufferLengthMs: report.bufferLengthMs,
    throughputKbps: report.throughputKbps,
    bufferStarvation: report.bufferStarvation,
  };
}

/** What a worker has served since it last sent: taken whole every interval and on a flush. */
export class UsageBatch {
  private ops: UsageOp[] = [];

  add(op: UsageOp): void {
    this.ops.push(op);
  }

  get size(): number {
    return this.ops.length;
  }

  /** Everything pending, oldest first; the batch is empty afterwards. */
  take(): UsageOp[] {
    const ops = this.ops;
    this.ops = [];
    return ops;
  }
}

/** What applying usage needs of the primary's DistributionService. */
export interface UsageTarget {
  findSession(sessionId: string): SessionRef | undefined;
  getDistributor(recordingId: string): LiveDistributor;
}

/**
 * Applies a worker's batch to the real sessions, in the order the worker served it: the same
 * accounting HlsDelivery makes for a request it serves itself (recordSegmentSent, report), at the
 * request's own time. A stream removed or replaced since is skipped, as a response finishing
 * after its stream was removed is; a session gone since counts to its stream only.
 */
export function applyUsage(target: UsageTarget, ops: readonly UsageOp[]): void {
  for (const op of ops) {
    const distributor = current(target, op.recordingId, op.incarnation);
    if (!distributor) continue;
    const found = op.sessionId === undefined ? undefined : target.findSession(op.sessionId);
    const session = found?.recordingId === op.recordingId ? found.session : undefined;
    if (op.kind === 'fetch') {
      if (!session) {
        distributor.recordUnattributedFetch(op.bytes, op.whole);
        continue;
      }
      const seen = session.lastSeenAt;
      distributor.recordRemoteFetch(session.viewerId, op, op.at);
      if (op.sampleKbps !== undefined) session.recordThroughput(op.sampleKbps, 'server');
      applyReport(distributor, session, op.report, op.at);
      keepLatest(session, seen);
    } else if (session) {
      const seen = session.lastSeenAt;
      if (op.observed !== undefined)
        distributor.observeBitrate(session.viewerId, op.observed, op.at);
      applyReport(distributor, session, op.report, op.at);
      keepLatest(session, seen);
    }
  }
}

function current(
  target: UsageTarget,
  recordingId: string,
  incarnation: string,
): LiveDistributor | undefined {
  try {
    const distributor = target.getDistributor(recordingId);
    return distributor.incarnation === incarnation ? distributor : undefined;
  } catch {
    return undefined;
  }
}

/** What HlsDelivery does with a seated session's report (its private `report`, the same steps). */
function applyReport(
  distributor: LiveDistributor,
  session: ViewerSession,
  report: UsageReport,
  at: number,
): void {
  if (report.bufferStarvation !== undefined) session.reportStarvation(report.bufferStarvation);
  if (report.bufferLengthMs === undefined && report.throughputKbps === undefined) {
    distributor.touch(session.viewerId, at);
    return;
  }
  distributor.applyClientReport(session.viewerId, report, at);
}

/**
 * Batches of two workers arrive in turn, not in time order: a viewer's last sign of life stays
 * its latest request, whichever batch came last.
 */
function keepLatest(session: ViewerSession, seen: number): void {
  if (seen > session.lastSeenAt) session.lastSeenAt = seen;
}

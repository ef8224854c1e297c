import type { CacheCounts } from '../service/cache-counts.js';
import type { CacheOutcome, EdgeReport, EdgeRequestKind } from './edge-report.js';

/** Requests and bytes of one kind at one edge, by cache outcome. */
export type OutcomeCounts = Record<CacheOutcome, number>;

/** What one edge reported since the origin started listening. */
export interface EdgeTotals {
  readonly edge: string;
  /** The address its last report came from. */
  readonly sender: string;
  /** Origin clock (ms) of its last report: an edge that stops reporting shows here. */
  readonly lastReportAt: number;
  readonly requests: Readonly<Record<EdgeRequestKind, Readonly<OutcomeCounts>>>;
  readonly bytes: Readonly<Record<EdgeRequestKind, number>>;
}

/** Reports the origin did not count, by why. */
export interface DroppedReports {
  /** Not a line of the edge format (another program's syslog, a newer format). */
  malformed: number;
  /** From an address outside `--edge-report-from`. */
  sender: number;
  /** From an edge beyond the number of edges tracked. */
  edges: number;
}

export type DropReason = keyof DroppedReports;

export const EDGE_TOTALS_DEFAULTS = {
  /** Distinct edge names tracked (each one is a set of metric series). */
  maxEdges: 256,
} as const;

const KINDS: readonly EdgeRequestKind[] = ['playlist', 'segment', 'other'];

function zeroOutcomes(): OutcomeCounts {
  return { hit: 0, stale: 0, miss: 0, bypass: 0, uncached: 0 };
}

interface MutableTotals {
  edge: string;
  sender: string;
  lastReportAt: number;
  requests: Record<EdgeRequestKind, OutcomeCounts>;
  bytes: Record<EdgeRequestKind, number>;
}

/**
 * The edge tier's cache outcomes, per edge, from their reports. Its `counts()` is the CDN hit
 * rate the service reports: segment (and init section) requests only, a hit being one served
 * from an edge's cache (fresh or stale) and a miss one the edge had to ask the origin for.
 * Playlists stay out: a viewer's own playlist bypasses the cache by design (its session is in
 * it) and a shared one lives a second, so counting them would measure polling, not caching.
 */
export class EdgeReports implements CacheCounts {
  private readonly edges = new Map<string, MutableTotals>();
  private readonly refused: DroppedReports = { malformed: 0, sender: 0, edges: 0 };

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly maxEdges: number = EDGE_TOTALS_DEFAULTS.maxEdges,
  ) {}

  /** Counts one reported request from `sender`; false when the edge is one too many. */
  record(report: EdgeReport, sender: string): boolean {
    let totals = this.edges.get(report.edge);
    if (!totals) {
      if (this.edges.size >= this.maxEdges) {
        this.refused.edges++;
        return false;
      }
      totals = {
        edge: report.edge,
        sender,
        lastReportAt: 0,
        requests: { playlist: zeroOutcomes(), segment: zeroOutcomes(), other: zeroOutcomes() },
        bytes: { playlist: 0, segment: 0, other: 0 },
      };
      this.edges.set(report.edge, totals);
    }
    totals.sender = sender;
    totals.lastReportAt = this.clock();
    totals.requests[report.kind][report.outcome]++;
    totals.bytes[report.kind] += report.bytes;
    return true;
  }

  /** Counts a report that was not recorded. */
  drop(reason: DropReason): void {
    this.refused[reason]++;
  }

  /** Segment requests served from the edges' caches (hits) and fetched from the origin (misses). */
  counts(): { hits: number; misses: number } {
    let hits = 0;
    let misses = 0;
    for (const totals of this.edges.values()) {
      const segment = totals.requests.segment;
      hits += segment.hit + segment.stale;
      misses += segment.miss;
    }
    return { hits, misses };
  }

  /** Every edge heard from, in the order first heard. */
  perEdge(): readonly EdgeTotals[] {
    return [...this.edges.values()].map((totals) => ({
      ...totals,
      requests: Object.fromEntries(
        KINDS.map((kind) => [kind, { ...totals.requests[kind] }]),
      ) as EdgeTotals['requests'],
      bytes: { ...totals.bytes },
    }));
  }

  dropped(): Readonly<DroppedReports> {
    return { ...this.refused };
  }
}

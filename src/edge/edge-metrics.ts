import { Counter, Gauge, type Registry } from 'prom-client';
import type { CacheOutcome, EdgeRequestKind } from './edge-report.js';
import type { DroppedReports, EdgeTotals } from './edge-reports.js';

/** What the edge metrics read: the per-edge totals and the dropped reports. */
export interface EdgeReportSource {
  perEdge(): readonly EdgeTotals[];
  dropped(): Readonly<DroppedReports>;
}

const OUTCOMES: readonly CacheOutcome[] = ['hit', 'stale', 'miss', 'bypass', 'uncached'];
const KINDS: readonly EdgeRequestKind[] = ['playlist', 'segment', 'other'];

/**
 * The edge tier's Prometheus metrics (`vtp_edge_*`), read from the reports at scrape time:
 * requests and bytes per edge, kind and cache outcome, each edge's segment hit ratio and the
 * time of its last report, and the reports dropped. Labels name edges (at most
 * EDGE_TOTALS_DEFAULTS.maxEdges), never viewers. Totals only grow, so the counters are set
 * from them on every scrape.
 */
export function registerEdgeMetrics(registry: Registry, source: EdgeReportSource): void {
  const registers = [registry];
  new Counter({
    name: 'vtp_edge_requests_total',
    help: 'Requests the edges served, by edge, kind (playlist, segment, other) and cache outcome (hit, stale, miss, bypass, uncached)',
    labelNames: ['edge', 'kind', 'outcome'],
    registers,
    collect() {
      this.reset();
      for (const totals of source.perEdge()) {
        for (const kind of KINDS) {
          for (const outcome of OUTCOMES) {
            this.inc({ edge: totals.edge, kind, outcome }, totals.requests[kind][outcome]);
          }
        }
      }
    },
  });
  new Counter({
    name: 'vtp_edge_bytes_total',
    help: 'Body bytes the edges sent to viewers, by edge and kind',
    labelNames: ['edge', 'kind'],
    registers,
    collect() {
      this.reset();
      for (const totals of source.perEdge()) {
        for (const kind of KINDS) this.inc({ edge: totals.edge, kind }, totals.bytes[kind]);
      }
    },
  });
  new Gauge({
    name: 'vtp_edge_cache_hit_ratio',
    help: 'Segment requests an edge served from its cache over all it served from cache or origin (0 with none)',
    labelNames: ['edge'],
    registers,
    collect() {
      this.reset();
      for (const totals of source.perEdge()) {
        const segment = totals.requests.segment;
        const hits = segment.hit + segment.stale;
        const all = hits + segment.miss;
        this.set({ edge: totals.edge }, all === 0 ? 0 : hits / all);
      }
    },
  });
  new Gauge({
    name: 'vtp_edge_last_report_timestamp_seconds',
    help: 'When the origin last heard from an edge (Unix seconds): an edge that stops reporting stands still here',
    labelNames: ['edge'],
    registers,
    collect() {
      this.reset();
      for (const totals of source.perEdge()) {
        this.set({ edge: totals.edge }, totals.lastReportAt / 1000);
      }
    },
  });
  new Counter({
    name: 'vtp_edge_reports_dropped_total',
    help: 'Edge reports not counted, by reason (malformed, sender not allowed, too many edges)',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, count] of Object.entries(source.dropped())) this.inc({ reason }, count);
    },
  });
}

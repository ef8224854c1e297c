import { Counter, Gauge, type Registry } from 'prom-client';

/** What one push target has been through, as metrics and the dashboard show it. */
export interface CdnPushTargetStatus {
  /** The target's URL with credentials and query values masked. */
  readonly target: string;
  /** False from an upload that gave up until a push succeeds again. */
  readonly up: boolean;
  /** Segments and fMP4 init sections the target took. */
  readonly segmentsPushed: number;
  /** Media and multivariant playlists the target took. */
  readonly playlistsPushed: number;
  readonly bytesPushed: number;
  /** Expired objects removed from the target. */
  readonly deleted: number;
  /** Every attempt that failed or timed out, ones a retry later fixed included. */
  readonly failedAttempts: number;
  /** Pushes given up after their retries. */
  readonly failures: number;
  /** Pushes dropped from the full backlog (planned again while the origin holds the object). */
  readonly dropped: number;
  /** Removals given up (refused, or too many waiting): those objects stay at the target. */
  readonly deletesGivenUp: number;
  /** Pushes waiting, and pushes in the delivery pool. */
  readonly backlog: number;
  readonly inFlight: number;
  /** The last failed attempt's error, masked. */
  readonly lastError: string | undefined;
  /** When the target last took a push (ms since the epoch). */
  readonly lastSuccessAt: number | undefined;
}

/** Anything that reports its push targets (the CdnPusher). */
export interface CdnPushStatusSource {
  status(): readonly CdnPushTargetStatus[];
}

type CountedField =
  | 'segmentsPushed'
  | 'playlistsPushed'
  | 'bytesPushed'
  | 'deleted'
  | 'failedAttempts'
  | 'failures'
  | 'dropped'
  | 'deletesGivenUp';

const COUNTERS: ReadonlyArray<readonly [string, string, CountedField]> = [
  [
    'vtp_cdn_push_segments_total',
    'Segments and init sections a push target took',
    'segmentsPushed',
  ],
  ['vtp_cdn_push_playlists_total', 'Playlists a push target took', 'playlistsPushed'],
  ['vtp_cdn_push_bytes_total', 'Bytes a push target took', 'bytesPushed'],
  ['vtp_cdn_push_deletes_total', 'Expired objects removed from a push target', 'deleted'],
  [
    'vtp_cdn_push_failed_attempts_total',
    'Push attempts that failed or timed out (retried or not)',
    'failedAttempts',
  ],
  ['vtp_cdn_push_failures_total', 'Pushes given up after their retries', 'failures'],
  [
    'vtp_cdn_push_dropped_total',
    "Pushes dropped from a target's full backlog (a target down too long)",
    'dropped',
  ],
  [
    'vtp_cdn_push_deletes_given_up_total',
    'Removals from a push target given up (refused, or too many waiting): the objects stay there',
    'deletesGivenUp',
  ],
];

/**
 * The push targets' Prometheus metrics, labelled by the masked target URL (the operator's list
 * bounds them): totals as counters, up, backlog and last success as gauges. Read at scrape time.
 */
export function registerCdnPushMetrics(registry: Registry, source: CdnPushStatusSource): void {
  const registers = [registry];
  const labelNames = ['target'] as const;
  for (const [name, help, field] of COUNTERS) {
    const counted = new Map<string, number>();
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        for (const status of source.status()) {
          const was = counted.get(status.target) ?? 0;
          const now = status[field];
          // Created at 0 so increase() sees the first push or failure.
          this.inc({ target: status.target }, Math.max(0, now - was));
          counted.set(status.target, Math.max(was, now));
        }
      },
    });
  }
  const gauge = (name: string, help: string, read: (s: CdnPushTargetStatus) => number) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        for (const status of source.status()) this.set({ target: status.target }, read(status));
      },
    });
  gauge(
    'vtp_cdn_push_up',
    'Whether a push target takes pushes (1) or the last one gave up (0)',
    (s) => (s.up ? 1 : 0),
  );
  gauge('vtp_cdn_push_backlog', 'Pushes waiting for a target', (s) => s.backlog);
  gauge('vtp_cdn_push_in_flight', 'Pushes to a target in the delivery pool', (s) => s.inFlight);
  gauge(
    'vtp_cdn_push_last_success_timestamp_seconds',
    'When a push target last took a push (0 before any)',
    (s) => (s.lastSuccessAt ?? 0) / 1000,
  );
}

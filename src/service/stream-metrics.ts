import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { PROFILE_NAMES } from '../core/profiles.js';
import type { DistributionService, SystemMetrics } from './distribution-service.js';
import { onTargetDurationRaised } from './target-raises.js';

/** Seconds from a segment's bytes arriving to its entry in the playlist (ingest waits for both). */
const INGEST_LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8];

/**
 * The service's Prometheus metrics: served totals as counters, streams, viewers, queue and CDN
 * as gauges, segments published per stream and rendition, the ingest lag, and target-duration
 * raises per stream. Figures are read from the service at scrape time (the same as
 * /api/v1/distribution/metrics); published segments, lag and raises come from its events.
 * Labels name streams (at most --max-streams at a time) and profiles, never viewers; a removed
 * stream's series go with it.
 */
export function registerStreamMetrics(registry: Registry, service: DistributionService): void {
  const registers = [registry];
  // One read of the service per scrape: every collect() of a scrape runs before the next turn.
  let snapshot: SystemMetrics | undefined;
  const figures = (): SystemMetrics => {
    if (!snapshot) {
      snapshot = service.getMetrics();
      setImmediate(() => {
        snapshot = undefined;
      });
    }
    return snapshot;
  };
  /** A counter that follows one of the service's totals, which never go backwards. */
  const total = (name: string, help: string, read: () => number) => {
    let counted = 0;
    new Counter({
      name,
      help,
      registers,
      collect() {
        const now = read();
        if (now > counted) this.inc(now - counted);
        counted = Math.max(counted, now);
      },
    });
  };
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });

  total(
    'vtp_segments_served_total',
    'Segments handed to viewers since the server started',
    () => figures().totalSegmentsServed,
  );
  total(
    'vtp_bytes_served_total',
    'Segment bytes handed to viewers since the server started',
    () => figures().totalBytesServed,
  );
  total(
    'vtp_delivery_failures_total',
    'Failed delivery attempts (retried or not) since the server started',
    () => figures().totalDeliveryFailures,
  );
  gauge('vtp_streams', 'Streams held (live or ended, not yet removed)', () => {
    return figures().totalDistributors;
  });
  gauge('vtp_live_streams', 'Live streams', () => figures().liveStreams);
  gauge('vtp_active_viewers', 'Active viewer sessions', () => {
    return figures().totalActiveViewers;
  });
  gauge('vtp_delivery_queue_length', 'Delivery tasks waiting', () => {
    return figures().deliveryQueue.queued;
  });
  gauge('vtp_cdn_cache_hit_ratio', 'CDN hits over CDN deliveries (0 with none)', () => {
    return figures().cdnCacheHitRate;
  });
  new Gauge({
    name: 'vtp_viewers',
    help: 'Active viewers per stream and profile',
    labelNames: ['stream', 'profile'],
    registers,
    collect() {
      this.reset();
      for (const distributor of service.streamDistributors()) {
        const counts = distributor.viewersByProfile;
        for (const profile of PROFILE_NAMES)
          this.set({ stream: distributor.recordingId, profile }, counts[profile]);
      }
    },
  });

  const published = new Counter({
    name: 'vtp_segments_published_total',
    help: 'Segments published per stream and rendition since the stream started',
    labelNames: ['stream', 'profile'],
    registers,
  });
  const lag = new Histogram({
    name: 'vtp_ingest_lag_seconds',
    help: "Seconds from a pushed segment's bytes arriving to its entry in the playlist",
    labelNames: ['profile'],
    buckets: INGEST_LAG_BUCKETS,
    registers,
  });
  service.events.on('segment_published', (event) => {
    published.inc({ stream: event.recordingId, profile: event.profile });
    if (event.lagMs !== undefined) lag.observe({ profile: event.profile }, event.lagMs / 1000);
  });
  const raises = new Counter({
    name: 'vtp_target_duration_raises_total',
    help: "Segments longer than the stream's fixed target duration, which raised it (an encoder breaking its segment-length promise)",
    labelNames: ['stream'],
    registers,
  });
  // Every stream has its series from the start, so increase() sees its first raise.
  service.events.on('stream_started', ({ recordingId }) => raises.inc({ stream: recordingId }, 0));
  onTargetDurationRaised(service, ({ recordingId, count }) =>
    raises.inc({ stream: recordingId }, count),
  );
  service.onStreamRetired((recordingId) => {
    for (const profile of PROFILE_NAMES) published.remove({ stream: recordingId, profile });
    raises.remove({ stream: recordingId });
  });
}

import type { FastifyPluginAsync } from 'fastify';
import { Gauge, Registry } from 'prom-client';
import { PROFILE_NAMES } from '../../core/profiles.js';
import type { RouteDeps } from '../app.js';

/**
 * GET /metrics in the Prometheus text format (prom-client). Values are read from the service
 * at scrape time, so they are the same figures as /api/v1/distribution/metrics.
 */
export const prometheusRoutes: FastifyPluginAsync<RouteDeps> = async (
  app,
  { service, encoders },
) => {
  const registry = new Registry();
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers: [registry] });
  const g = {
    streams: gauge('vtp_streams', 'Streams held (live or ended, not yet removed)'),
    live: gauge('vtp_live_streams', 'Live streams'),
    viewers: gauge('vtp_active_viewers', 'Active viewer sessions'),
    segments: gauge('vtp_segments_served_total', 'Segments handed to viewers since start'),
    bytes: gauge('vtp_bytes_served_total', 'Segment bytes handed to viewers since start'),
    failures: gauge('vtp_delivery_failures_total', 'Failed delivery attempts since start'),
    queue: gauge('vtp_delivery_queue_length', 'Delivery tasks waiting'),
    cdn: gauge('vtp_cdn_cache_hit_ratio', 'CDN hits over CDN deliveries (0 with none)'),
    encoders: gauge('vtp_encoders_running', 'Built-in encoders running'),
    behind: gauge('vtp_encoders_behind_real_time', 'Built-in encoders behind real time'),
  };
  const perProfile = new Gauge({
    name: 'vtp_viewers',
    help: 'Active viewers per stream and profile',
    labelNames: ['stream', 'profile'],
    registers: [registry],
  });

  /** Reads the service once per scrape and sets every gauge from that one snapshot. */
  function snapshot(): void {
    const m = service.getMetrics();
    const jobs = encoders.list();
    g.streams.set(m.totalDistributors);
    g.live.set(m.liveStreams);
    g.viewers.set(m.totalActiveViewers);
    g.segments.set(m.totalSegmentsServed);
    g.bytes.set(m.totalBytesServed);
    g.failures.set(m.totalDeliveryFailures);
    g.queue.set(m.deliveryQueue.queued);
    g.cdn.set(m.cdnCacheHitRate);
    g.encoders.set(jobs.filter((e) => e.state === 'running').length);
    g.behind.set(jobs.filter((e) => e.behind).length);
    perProfile.reset();
    for (const distributor of service.streamDistributors()) {
      const counts = distributor.viewersByProfile;
      for (const profile of PROFILE_NAMES) {
        perProfile.set({ stream: distributor.recordingId, profile }, counts[profile]);
      }
    }
  }

  app.get('/metrics', async (_request, reply) => {
    snapshot();
    return reply.type(registry.contentType).send(await registry.metrics());
  });
};

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
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge(
    'vtp_streams',
    'Streams held (live or ended, not yet removed)',
    () => service.getMetrics().totalDistributors,
  );
  gauge('vtp_live_streams', 'Live streams', () => service.getMetrics().liveStreams);
  gauge(
    'vtp_active_viewers',
    'Active viewer sessions',
    () => service.getMetrics().totalActiveViewers,
  );
  gauge(
    'vtp_segments_served_total',
    'Segments handed to viewers since start',
    () => service.getMetrics().totalSegmentsServed,
  );
  gauge(
    'vtp_bytes_served_total',
    'Segment bytes handed to viewers since start',
    () => service.getMetrics().totalBytesServed,
  );
  gauge(
    'vtp_delivery_failures_total',
    'Failed delivery attempts since start',
    () => service.getMetrics().totalDeliveryFailures,
  );
  gauge(
    'vtp_delivery_queue_length',
    'Delivery tasks waiting',
    () => service.getMetrics().deliveryQueue.queued,
  );
  gauge(
    'vtp_cdn_cache_hit_ratio',
    'CDN hits over CDN deliveries (0 with none)',
    () => service.getMetrics().cdnCacheHitRate,
  );
  gauge(
    'vtp_encoders_running',
    'Built-in encoders running',
    () => encoders.list().filter((e) => e.state === 'running').length,
  );
  gauge(
    'vtp_encoders_behind_real_time',
    'Built-in encoders behind real time',
    () => encoders.list().filter((e) => e.behind).length,
  );
  new Gauge({
    name: 'vtp_viewers',
    help: 'Active viewers per stream and profile',
    labelNames: ['stream', 'profile'],
    registers: [registry],
    collect() {
      this.reset();
      for (const stats of service.getAllStreamStatistics()) {
        for (const profile of PROFILE_NAMES) {
          this.set({ stream: stats.recordingId, profile }, stats.viewersByProfile[profile]);
        }
      }
    },
  });

  app.get('/metrics', async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
};

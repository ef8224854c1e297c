import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { DistributionError } from '../../core/errors.js';
import { PROFILE_NAMES } from '../../core/profiles.js';
import { countEncoders } from '../../ingest/encoder-metrics.js';
import { type StreamHealth, streamHealth, systemHealth } from '../../service/stream-health.js';
import { watchTargetDurationRaises } from '../../service/target-raises.js';
import type { RouteDeps } from '../app.js';
import { tagged } from '../operation-docs.js';
import { CdnSettings, DistributionMetrics, Health } from '../response-schemas.js';
import { cdnPushMetrics, envelope } from '../responses.js';
import { CdnBody } from '../schemas.js';

/** System metrics, health and CDN settings. */
export const distributionRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { service, encoders, admin, cdnPush, publishing },
) => {
  // Registered with the app, before the server listens: no segment is published before it.
  const targetRaisedAt = watchTargetDurationRaises(service);
  const metricsSchema = {
    summary: 'System metrics',
    tags: tagged('distribution'),
    response: { 200: DistributionMetrics },
  };
  app.get('/api/v1/distribution/metrics', { schema: metricsSchema }, async () => {
    const m = service.getMetrics();
    const q = m.deliveryQueue;
    const encoderCounts = countEncoders(encoders.list());
    return envelope(
      {
        total_distributors: m.totalDistributors,
        live_streams: m.liveStreams,
        total_active_viewers: m.totalActiveViewers,
        total_segments_served: m.totalSegmentsServed,
        total_bytes_served: m.totalBytesServed,
        total_delivery_failures: m.totalDeliveryFailures,
        cdn_enabled: m.cdnEnabled,
        cdn_base_url: m.cdnBaseUrl ?? null,
        cdn_cache_hit_rate: m.cdnCacheHitRate,
        cdn_hits: m.cdnHits,
        cdn_misses: m.cdnMisses,
        delivery_queue: {
          workers: q.workers,
          capacity: q.queueCapacity,
          queued: q.queued,
          running: q.running,
          delivered: q.delivered,
          failed: q.failed,
          failed_attempts: q.failedAttempts,
        },
        encoders: {
          running: encoderCounts.running,
          behind_real_time: encoderCounts.behindRealTime,
        },
        ...(cdnPush && { cdn_push: cdnPushMetrics(cdnPush.status()) }),
        uptime_seconds: Math.floor(m.uptimeMs / 1000),
      },
      'Metrics retrieved successfully',
    );
  });

  const healthSchema = {
    summary: 'Health (503 while shutting down)',
    tags: tagged('distribution'),
    response: { 200: Health, 503: Health },
  };
  app.get('/api/v1/distribution/health', { schema: healthSchema }, async (_request, reply) => {
    const health = systemHealth(
      service.health(),
      streamHealth(service.streamDistributors(), { encoders, targetRaisedAt }, service.now()),
      publishing?.listenerStatus().up === false
        ? ['the RTMP listener is down (restarting): lecturers cannot publish from OBS']
        : [],
    );
    // Degraded still serves; only a draining server asks load balancers to look elsewhere.
    return reply.code(health.accepting ? 200 : 503).send(
      envelope(
        {
          status: health.status,
          accepting: health.accepting,
          reasons: health.reasons,
          streams: health.streams.map(streamHealthJson),
        },
        health.status === 'healthy'
          ? 'Service is healthy'
          : `Service is degraded: ${health.reasons.join('; ')}`,
      ),
    );
  });

  app.put(
    '/api/v1/distribution/cdn',
    {
      onRequest: admin,
      schema: {
        summary: 'Deliver through a push CDN, or stop',
        tags: tagged('distribution'),
        body: CdnBody,
        response: { 200: CdnSettings },
      },
    },
    async (request) => {
      const { enabled, base_url } = request.body;
      if (enabled) {
        if (!base_url)
          throw new DistributionError(
            'INVALID_REQUEST',
            'base_url is required to enable the CDN',
            'base_url',
          );
        try {
          service.enableCDN(base_url);
        } catch {
          throw new DistributionError(
            'INVALID_REQUEST',
            'base_url must be an http(s) URL',
            'base_url',
          );
        }
      } else {
        service.disableCDN();
      }
      const m = service.getMetrics();
      return envelope(
        { cdn_enabled: m.cdnEnabled, cdn_base_url: m.cdnBaseUrl ?? null },
        enabled ? 'CDN enabled' : 'CDN disabled',
      );
    },
  );
};

/** A live stream's health as the API reports it. */
function streamHealthJson(health: StreamHealth) {
  const encoder = health.encoder;
  return {
    recording_id: health.recordingId,
    status: health.status,
    reasons: health.reasons,
    last_segment_age_seconds: ageSeconds(health.lastSegmentAgeMs),
    renditions: PROFILE_NAMES.filter((p) => health.renditionAgesMs[p] !== undefined).map((p) => ({
      profile: p,
      last_segment_age_seconds: ageSeconds(health.renditionAgesMs[p]),
    })),
    target_duration_seconds: health.targetDurationSec,
    encoder: encoder
      ? {
          job_id: encoder.jobId,
          state: encoder.state,
          recent_speed: encoder.recentSpeed ?? null,
          behind_real_time: encoder.behind,
        }
      : null,
  };
}

function ageSeconds(ms: number | undefined): number | null {
  return ms === undefined ? null : Math.round(ms / 100) / 10;
}

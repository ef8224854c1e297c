import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { registerEdgeMetrics } from '../../edge/edge-metrics.js';
import { registerEncoderMetrics } from '../../ingest/encoder-metrics.js';
import { registerCdnPushMetrics } from '../../service/cdn-push-metrics.js';
import { registerStreamMetrics } from '../../service/stream-metrics.js';
import type { RouteDeps } from '../app.js';
import { tagged } from '../operation-docs.js';
import { observeRequestDurations } from '../request-metrics.js';
import { text } from '../response-schemas.js';

/**
 * prom-client's default metrics that are gauges named `_total` (Prometheus keeps that suffix for
 * counters, and promtool rejects it on a gauge); each has a labelled twin without the suffix
 * (`nodejs_active_handles{type}` and so on) that holds the same figures.
 */
const GAUGES_NAMED_TOTAL = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

let processMetrics: Registry | undefined;

/**
 * Process and Node runtime metrics (CPU, memory, event loop lag, GC, handles). One set per
 * process however many apps it runs (tests start many), since they measure the process.
 */
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
    for (const name of GAUGES_NAMED_TOTAL) processMetrics.removeSingleMetric(name);
  }
  return processMetrics;
}

/**
 * GET /metrics in the Prometheus text format: the service's, the encoders' and the request
 * durations, with the process's. The request hook goes on the root app so it times every route.
 */
export function installMetrics(
  app: FastifyInstance,
  { service, encoders, maxLongPollMs, edgeReports, cdnPush }: RouteDeps,
): void {
  const registry = new Registry();
  observeRequestDurations(app, registry, maxLongPollMs);
  registerStreamMetrics(registry, service);
  registerEncoderMetrics(registry, encoders);
  if (edgeReports) registerEdgeMetrics(registry, edgeReports);
  if (cdnPush) registerCdnPushMetrics(registry, cdnPush);
  const scrape = Registry.merge([processRegistry(), registry]);
  // In a plugin, like every route, so the plugins watching routes (OpenAPI) see it.
  app.register(async (scope) => {
    const schema = {
      summary: 'Metrics in the Prometheus text format',
      tags: tagged('metrics'),
      response: { 200: text('every metric', 'text/plain') },
    };
    scope.get('/metrics', { schema }, async (_request, reply) =>
      reply.type(scrape.contentType).send(await scrape.metrics()),
    );
  });
}

import type { FastifyInstance } from 'fastify';
import { Histogram, type Registry } from 'prom-client';

/** Long enough for a long poll of /next (30 s at most) to land in a bucket of its own. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);

/**
 * Times every response by route template (`/live/:recording_id/:profile/:file`, never the
 * URL itself), method and status class, so the series stay few however many streams, viewers
 * and segments there are. Requests no route matched share `route="unmatched"`.
 */
export function observeRequestDurations(app: FastifyInstance, registry: Registry): void {
  const histogram = new Histogram({
    name: 'vtp_http_request_duration_seconds',
    help: 'Time from a request arriving to its response being sent, by route template, method and status class',
    labelNames: ['route', 'method', 'status_class'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  app.addHook('onResponse', (request, reply, done) => {
    histogram.observe(
      {
        route: request.routeOptions.url ?? 'unmatched',
        method: METHODS.has(request.method) ? request.method : 'OTHER',
        status_class: `${Math.floor(reply.statusCode / 100)}xx`,
      },
      reply.elapsedTime / 1000,
    );
    done();
  });
}

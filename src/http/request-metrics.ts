import type { FastifyInstance } from 'fastify';
import { Histogram, type Registry } from 'prom-client';

/**
 * Bounds (s) of the duration buckets; the longest is a full long poll of /next (`longestMs`),
 * so those land in a bucket of their own rather than among slow requests.
 */
function durationBuckets(longestMs: number): number[] {
  const base = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  const longest = longestMs / 1000;
  return [...base.filter((b) => b < longest), longest];
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];
const UNMATCHED = 'unmatched';

type Child = ReturnType<Histogram<'route' | 'method' | 'status_class'>['labels']>;

/**
 * Times every response by route template (`/live/:recording_id/:profile/:file`, never the
 * URL itself), method and status class, so the series stay few however many streams, viewers
 * and segments there are. Requests no route matched share `route="unmatched"`. Each series'
 * child is made once and kept (route → method → status class), so a request costs lookups and
 * `observe`, no label object or string of its own. `longPollMs` is the longest wait of /next.
 */
export function observeRequestDurations(
  app: FastifyInstance,
  registry: Registry,
  longPollMs: number,
): void {
  const histogram = new Histogram({
    name: 'vtp_http_request_duration_seconds',
    help: 'Time from a request arriving to its response being sent, by route template, method and status class',
    labelNames: ['route', 'method', 'status_class'] as const,
    buckets: durationBuckets(longPollMs),
    registers: [registry],
  });
  // Bounded: routes come from the route table, methods from METHODS, classes from STATUS_CLASSES.
  const children = new Map<string, Map<string, Child[]>>();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? UNMATCHED;
    const method = METHODS.has(request.method) ? request.method : 'OTHER';
    const statusClass = Math.min(5, Math.max(0, Math.floor(reply.statusCode / 100)));
    let byMethod = children.get(route);
    if (!byMethod) {
      byMethod = new Map();
      children.set(route, byMethod);
    }
    let byClass = byMethod.get(method);
    if (!byClass) {
      byClass = [];
      byMethod.set(method, byClass);
    }
    let child = byClass[statusClass];
    if (!child) {
      child = histogram.labels(route, method, STATUS_CLASSES[statusClass] as string);
      byClass[statusClass] = child;
    }
    child.observe(reply.elapsedTime / 1000);
    done();
  });
}

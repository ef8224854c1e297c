import type { FastifyInstance } from 'fastify';
import { DistributionError } from '../core/errors.js';
import { ShuttingDownError } from '../service/service-errors.js';
import { PROBE_PATHS } from './routes/probes.js';

/**
 * Refusals Node and Fastify would otherwise answer in their own formats, moved here so they
 * answer in the JSON error body: an HTTP/1.1 request without Host (Node sends an empty 400) and
 * a request arriving while the server closes (Fastify sends a 503 body of its own). The probes
 * answer during a close too: an orchestrator must see /livez alive and /readyz's reasons.
 */
export function installRequestGuards(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // A callback hook, not an async one: it runs on every request, HLS's included.
  app.addHook('onRequest', (request, _reply, done) => {
    if (closing && !PROBE_PATHS.has(request.routeOptions.url ?? '')) {
      return done(new ShuttingDownError());
    }
    const { httpVersionMajor, httpVersionMinor } = request.raw;
    // RFC 9112 section 3.2: a server must refuse an HTTP/1.1 request that lacks Host.
    if (httpVersionMajor === 1 && httpVersionMinor >= 1 && request.headers.host === undefined) {
      return done(
        new DistributionError('BAD_REQUEST', 'an HTTP/1.1 request needs a Host header', 'host'),
      );
    }
    done();
  });
}

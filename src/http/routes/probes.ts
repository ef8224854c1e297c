import type { FastifyPluginAsync } from 'fastify';
import type { RouteDeps } from '../app.js';

/**
 * Probes for orchestrators, outside the control API (no auth, no rate limit, no envelope).
 * Liveness answers whenever the event loop turns: a wedged process cannot answer at all, which
 * the prober's timeout reads as dead. Readiness is about taking traffic: listening and not
 * draining; a degraded stream is the health endpoint's business, not a reason to stop serving.
 */
export const probeRoutes: FastifyPluginAsync<RouteDeps> = async (app, { service }) => {
  app.get('/livez', async (_request, reply) =>
    reply.header('cache-control', 'no-store').send({ status: 'alive' }),
  );

  app.get('/readyz', async (_request, reply) => {
    const reasons: string[] = [];
    if (!app.server.listening) reasons.push('not listening yet');
    if (!service.health().accepting) reasons.push('shutting down');
    return reply
      .code(reasons.length ? 503 : 200)
      .header('cache-control', 'no-store')
      .send({ status: reasons.length ? 'not_ready' : 'ready', reasons });
  });
};

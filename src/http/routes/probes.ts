import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { RouteDeps } from '../app.js';
import { tagged } from '../operation-docs.js';

/** Paths of the probes: they answer while the server closes (request-guards.ts). */
export const PROBE_PATHS: ReadonlySet<string> = new Set(['/livez', '/readyz']);

const Alive = Type.Object(
  { status: Type.Literal('alive') },
  { additionalProperties: true, description: 'the process answers' },
);
const Readiness = Type.Object(
  {
    status: Type.Enum(['ready', 'not_ready']),
    reasons: Type.Array(Type.String(), { description: 'why not ready; empty when ready' }),
  },
  { additionalProperties: true, description: 'ready, or not with the reasons' },
);

/**
 * Probes for orchestrators, outside the control API (no auth, no rate limit, no envelope).
 * Liveness answers whenever the event loop turns: a wedged process cannot answer at all, which
 * the prober's timeout reads as dead. Readiness is about taking traffic: listening and not
 * draining; a degraded stream is the health endpoint's business, not a reason to stop serving.
 */
export const probeRoutes: FastifyPluginAsync<RouteDeps> = async (app, { service }) => {
  app.get(
    '/livez',
    {
      schema: {
        summary: 'Liveness: the process answers',
        tags: tagged('probes'),
        response: { 200: Alive },
      },
    },
    async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'alive' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: listening and not draining (503 with the reasons otherwise)',
        tags: tagged('probes'),
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const reasons: string[] = [];
      // A draining server has stopped listening too; the drain is the reason worth naming.
      if (!service.health().accepting) reasons.push('shutting down');
      else if (!app.server.listening) reasons.push('not listening yet');
      return reply
        .code(reasons.length ? 503 : 200)
        .header('cache-control', 'no-store')
        .send({ status: reasons.length ? 'not_ready' : 'ready', reasons });
    },
  );
};

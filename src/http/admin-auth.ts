import type { FastifyRequest } from 'fastify';
import { DistributionError } from '../core/errors.js';
import { bearerToken, sameSecret } from '../service/secrets.js';

export class AdminTokenError extends DistributionError {
  constructor(present: boolean) {
    super(
      present ? 'ADMIN_TOKEN_INVALID' : 'ADMIN_TOKEN_REQUIRED',
      present
        ? 'the admin token does not match'
        : 'this operation needs the admin token (Authorization: Bearer …)',
      'authorization',
    );
  }
}

/**
 * An onRequest hook for operations that change what the server does (start or end streams,
 * encoders, deliveries, CDN): with a token configured they need it as a bearer token; without
 * one (a loopback-only server) they are open. Viewer-facing routes never use it.
 */
export function adminGuard(token: string | undefined): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    if (token === undefined) return;
    const presented = bearerToken(request.headers.authorization);
    if (presented === undefined) throw new AdminTokenError(false);
    if (!sameSecret(presented, token)) throw new AdminTokenError(true);
  };
}

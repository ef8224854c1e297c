import type { FastifyRequest } from 'fastify';
import { DistributionError } from '../core/errors.js';
import { bearerToken, sameSecret } from '../service/secrets.js';

/** What viewer access needs of the sessions: find one by its id. */
export interface SessionLookup {
  findSession(
    sessionId: string,
  ): { recordingId: string; session: { viewerId: string } } | undefined;
}

/** Who is asking: the operator (admin token), one viewer (its session), or anyone. */
export type Caller =
  | { readonly role: 'admin' }
  | { readonly role: 'viewer'; readonly recordingId: string; readonly viewerId: string }
  | { readonly role: 'public' };

export class ViewerAccessError extends DistributionError {
  constructor(kind: 'required' | 'unknown' | 'other') {
    super(
      kind === 'required' ? 'VIEWER_AUTH_REQUIRED' : 'VIEWER_FORBIDDEN',
      kind === 'required'
        ? "this operation needs the viewer's session (Authorization: Bearer <session_id>) or the admin token"
        : kind === 'unknown'
          ? 'the bearer token is neither the admin token nor a live session'
          : 'this session belongs to another viewer',
      'authorization',
    );
  }
}

const ADMIN: Caller = { role: 'admin' };
const PUBLIC: Caller = { role: 'public' };

/**
 * A viewer's data and session are its own: with an admin token configured, per-viewer rows and
 * viewer operations need that token or the viewer's own session as a bearer token. Without one
 * (a loopback-only server, open to its machine) a caller that names no session is the operator.
 */
export class ViewerAccess {
  constructor(
    private readonly adminToken: string | undefined,
    private readonly sessions: SessionLookup,
  ) {}

  /**
   * Who sent the request: a bearer token that is a live session makes its viewer the caller,
   * even on a server without an admin token; with one, any other bearer token is a 403.
   */
  caller(request: FastifyRequest): Caller {
    if (this.presentsAdminToken(request)) return ADMIN;
    const presented = bearerToken(request.headers.authorization);
    const found = presented === undefined ? undefined : this.sessions.findSession(presented);
    if (found) {
      return { role: 'viewer', recordingId: found.recordingId, viewerId: found.session.viewerId };
    }
    if (this.adminToken === undefined) return ADMIN;
    if (presented !== undefined) throw new ViewerAccessError('unknown');
    return PUBLIC;
  }

  /** Throws unless the request may act for `viewerId` of `recordingId`. */
  requireViewer(request: FastifyRequest, recordingId: string, viewerId: string): void {
    const caller = this.caller(request);
    if (caller.role === 'admin') return;
    if (caller.role === 'public') throw new ViewerAccessError('required');
    if (caller.recordingId !== recordingId || caller.viewerId !== viewerId) {
      throw new ViewerAccessError('other');
    }
  }

  /** Whether the request carries the configured admin token (false when there is none). */
  presentsAdminToken(request: FastifyRequest): boolean {
    if (this.adminToken === undefined) return false;
    const presented = bearerToken(request.headers.authorization);
    return presented !== undefined && sameSecret(presented, this.adminToken);
  }
}

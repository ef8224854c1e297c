import type { ViewerSession } from '../core/viewer-session.js';

/** A seated session and the stream it watches. */
export interface SessionRef {
  readonly recordingId: string;
  readonly session: ViewerSession;
}

/**
 * Every seated session by its id, with its stream: the lookup every HLS request makes. Only the
 * DistributionService seats and removes viewers (join, restore, adoption, leave, idle expiry,
 * retire), and each path keeps this index in step, so a hit is a live session without asking
 * its distributor.
 */
export class SessionIndex {
  private readonly sessions = new Map<string, SessionRef>();

  /** Records a seated session of `recordingId`. */
  add(recordingId: string, session: ViewerSession): void {
    this.sessions.set(session.sessionId, { recordingId, session });
  }

  /** Forgets a session that left or was removed. */
  remove(sessionId: string): void {
    this.sessions.delete(sessionId);
  }

  /** The session with this id and its stream, or undefined when it is unknown or has left. */
  find(sessionId: string): SessionRef | undefined {
    return this.sessions.get(sessionId);
  }
}

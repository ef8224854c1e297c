import type { LiveDistributor } from '../core/distributor.js';
import { DistributionError } from '../core/errors.js';
import type { ProfileName } from '../core/profiles.js';
import type { ViewerSession } from '../core/viewer-session.js';
import type { AdmitOutcome } from './audience-store.js';
import type { LeaveReason } from './stream-events.js';

/** What every origin must agree on about a stream: the URLs it serves and its viewer cap. */
export interface StreamIdentity {
  /** Segment URLs carry it: origins serving one stream must name its segments alike. */
  readonly incarnation: string;
  readonly maxViewers: number;
  readonly dvrSeconds: number;
}

/** A viewer asking for a seat (a join, or an anonymous player at its first segment). */
export interface SeatRequest {
  readonly viewerId: string;
  readonly sessionId: string;
  readonly initialBitrate: ProfileName;
  readonly anonymous: boolean;
}

/** What a shared audience needs of the service it keeps in step (DistributionService provides it). */
export interface AudienceHost {
  now(): number;
  /** A viewer id for an anonymous player (never derived from its session id, a credential). */
  newAnonymousId(): string;
  /** Sessions idle this long leave. */
  readonly idleTimeoutMs: number;
  /** The stream's distributor here, if there is one. */
  distributor(recordingId: string): LiveDistributor | undefined;
  /** A session of the shared audience was seated here. */
  seated(recordingId: string, session: ViewerSession): void;
  /** A session was removed here; `reason` when this origin announces the leave. */
  unseated(recordingId: string, session: ViewerSession, reason: LeaveReason | undefined): void;
  /** Another origin ended the stream. */
  endedElsewhere(recordingId: string, at: number): void;
  warn(message: string, error?: unknown): void;
}

/** A join or a new session while the shared state cannot be reached (`--state-url`). */
export class SharedStateUnavailableError extends DistributionError {
  constructor(reason: string) {
    super(
      'SHARED_STATE_UNAVAILABLE',
      `the state shared with the other origins cannot be reached (${reason}); retry shortly`,
    );
  }
}

/**
 * The audience of this server's streams as far as other origins share it (`--state-url`):
 * admitting viewers under a stream's cap, sessions created elsewhere, their counters, leaves
 * and idle expiry. The in-process audience (LocalAudience, the default) shares nothing and
 * every call is a no-op; MirroredAudience (audience-mirror.ts) shares it through an
 * AudienceStore such as Redis.
 */
export interface SharedAudience {
  /** Whether other origins share this audience (false: this process alone, as before). */
  readonly shared: boolean;
  /** Binds the service whose sessions it keeps in step (once, before anything else). */
  attach(host: AudienceHost): void;
  /**
   * Agrees a stream's identity with the other origins before it is created here. `exclusive`
   * (an API start) refuses a stream live on another origin with StreamExistsError.
   */
  claimStream(
    recordingId: string,
    proposal: StreamIdentity,
    exclusive: boolean,
  ): Promise<StreamIdentity>;
  /** The identity agreed for a stream about to be created here, if one was claimed. */
  identity(recordingId: string): StreamIdentity | undefined;
  /** A stream was created or restored here: its audience is shared from now on. */
  follow(recordingId: string, incarnation: string): void;
  /** A stream was removed here. */
  unfollow(recordingId: string): void;
  /**
   * Seats a viewer under the stream's cap across every origin (atomically: two origins never
   * both take the last seat). Once it resolves `seated` the session is seated here too; the
   * caller announces the join. Other outcomes: `full`, `exists`, `profile_full`.
   */
  admit(recordingId: string, request: SeatRequest): Promise<AdmitOutcome>;
  /**
   * A request names a session this origin does not know: brings the stream's audience up to
   * date, after which the session is seated here if any origin seated it.
   */
  lookUp(recordingId: string, sessionId: string): Promise<void>;
  /** Brings a stream's audience up to date now (a request names a viewer unknown here). */
  refresh(recordingId: string): Promise<void>;
  /** Tells the other origins an anonymous session was handed out here (its first segment may land elsewhere). */
  handOut(recordingId: string, sessionId: string, ttlMs: number): Promise<void>;
  /** The stream an anonymous session was handed out for by any origin, while it waits for its first segment. */
  handedOut(sessionId: string): Promise<string | undefined>;
  /** A viewer left here (the API, or the stream removed): other origins hear it with the next batch. */
  left(recordingId: string, sessionId: string): void;
  /** A stream ended here: other origins end it too. */
  ended(recordingId: string, at: number): void;
  /** Whether this origin announces a session's leave when its stream is removed (it admitted it). */
  announces(sessionId: string): boolean;
  /** Whether idle viewers are expired here; false when the shared state expires them for every origin. */
  readonly expiresIdleLocally: boolean;
  /** Connects (start-up): throws with a message naming the setting when the state is unreachable. */
  connect(): Promise<void>;
  /** Starts sending counters in batches. */
  start(): void;
  /** Sends what is not sent yet and disconnects, within `timeoutMs` when given. */
  close(timeoutMs?: number): Promise<void>;
  /** Why the shared state is not working now; empty when it is (health). */
  problems(): string[];
}

/** The in-process audience: nothing is shared; the service seats, counts and expires alone. */
export class LocalAudience implements SharedAudience {
  readonly shared = false;
  readonly expiresIdleLocally = true;

  attach(_host: AudienceHost): void {}

  async claimStream(
    _recordingId: string,
    proposal: StreamIdentity,
    _exclusive: boolean,
  ): Promise<StreamIdentity> {
    return proposal;
  }

  identity(_recordingId: string): undefined {
    return undefined;
  }

  follow(_recordingId: string, _incarnation: string): void {}

  unfollow(_recordingId: string): void {}

  async admit(): Promise<AdmitOutcome> {
    throw new Error('an in-process audience seats viewers in the service itself');
  }

  async lookUp(_recordingId: string, _sessionId: string): Promise<void> {}

  async refresh(_recordingId: string): Promise<void> {}

  async handOut(_recordingId: string, _sessionId: string, _ttlMs: number): Promise<void> {}

  async handedOut(_sessionId: string): Promise<undefined> {
    return undefined;
  }

  left(_recordingId: string, _sessionId: string): void {}

  ended(_recordingId: string, _at: number): void {}

  announces(_sessionId: string): boolean {
    return true;
  }

  async connect(): Promise<void> {}

  start(): void {}

  async close(_timeoutMs?: number): Promise<void> {}

  problems(): string[] {
    return [];
  }
}

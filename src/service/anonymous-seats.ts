import { DistributionError } from '../core/errors.js';

export class TooManyAnonymousError extends DistributionError {
  constructor(limit: number) {
    super(
      'TOO_MANY_ANONYMOUS_SESSIONS',
      limit === 0
        ? 'this server plays to joined viewers only: join through the API and use its playback_url'
        : `this client already holds ${limit} anonymous sessions; reuse one (?session=) or join through the API`,
      'session',
    );
  }
}

export class AnonymousBacklogFullError extends DistributionError {
  constructor() {
    super(
      'ANONYMOUS_BACKLOG_FULL',
      'too many anonymous sessions are waiting for their first segment',
    );
  }
}

export interface AnonymousSeatOptions {
  /** Anonymous sessions one client address may hold at once (waiting or seated). */
  readonly perClient: number;
  /** How long a session handed out by a playlist waits for its first segment. */
  readonly pendingMs: number;
  /** Sessions that may wait at once, server-wide. */
  readonly maxPending: number;
}

interface Pending {
  readonly recordingId: string;
  readonly client: string;
  readonly issuedAt: number;
}

/**
 * Sessions a multivariant playlist handed to a player that named none. Such a session takes a
 * viewer seat only when it fetches its first segment, so playlist requests alone (curl, HEAD,
 * probes) can never fill a lecture; and one client address holds only a few at a time.
 */
export class AnonymousSeats {
  private readonly pending = new Map<string, Pending>();
  private readonly byClient = new Map<string, Set<string>>();

  constructor(
    private readonly options: AnonymousSeatOptions,
    /** Whether a session id still names a seated viewer. */
    private readonly isSeated: (sessionId: string) => boolean,
  ) {}

  /** Registers a new waiting session for `client`; throws when the client or server is at its bound. */
  issue(client: string, recordingId: string, sessionId: string, now: number): void {
    // Sessions that left are swept from the client's set only when it looks full: sweeping on
    // every join costs a pass over all of them, quadratic for many players behind one address.
    let held = this.byClient.get(client) ?? new Set<string>();
    if (held.size >= this.options.perClient) held = this.held(client);
    if (held.size >= this.options.perClient)
      throw new TooManyAnonymousError(this.options.perClient);
    if (this.pending.size >= this.options.maxPending) {
      this.prune(now);
      if (this.pending.size >= this.options.maxPending) throw new AnonymousBacklogFullError();
    }
    this.pending.set(sessionId, { recordingId, client, issuedAt: now });
    held.add(sessionId);
    this.byClient.set(client, held);
  }

  /** The stream a waiting session was handed out for, if it is still waiting. */
  streamOf(sessionId: string): string | undefined {
    return this.pending.get(sessionId)?.recordingId;
  }

  /** Ends the wait of a session that is taking its seat now. */
  seat(sessionId: string): void {
    this.pending.delete(sessionId);
  }

  /** Drops waits older than the pending time, and clients that hold nothing any more. */
  prune(now: number): void {
    for (const [sessionId, wait] of this.pending) {
      if (now - wait.issuedAt > this.options.pendingMs) this.pending.delete(sessionId);
    }
    for (const client of this.byClient.keys()) this.held(client);
  }

  /** Forgets the waits of a stream that was removed. */
  forgetStream(recordingId: string): void {
    for (const [sessionId, wait] of this.pending) {
      if (wait.recordingId === recordingId) this.pending.delete(sessionId);
    }
  }

  /** The client's sessions that still wait or sit; the rest are dropped from its set. */
  private held(client: string): Set<string> {
    const held = this.byClient.get(client) ?? new Set<string>();
    for (const sessionId of held) {
      if (!this.pending.has(sessionId) && !this.isSeated(sessionId)) held.delete(sessionId);
    }
    if (held.size === 0) this.byClient.delete(client);
    return held;
  }
}

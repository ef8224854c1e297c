import type { LiveDistributor } from '../core/distributor.js';
import { StreamExistsError } from '../core/errors.js';
import { type ProfileName, profilesAtOrBelow } from '../core/profiles.js';
import { INITIAL_BUFFER_HEALTH, type ViewerSession } from '../core/viewer-session.js';
import type {
  AdmitOutcome,
  AdmitRequest,
  AudienceStore,
  ExchangeReply,
  ExchangeRequest,
  ReadmitSession,
  ServedCounts,
  SessionCounters,
  SessionUpdate,
  SharedSession,
} from './audience-store.js';
import {
  type AudienceHost,
  type SeatRequest,
  type SharedAudience,
  SharedStateUnavailableError,
  type StreamIdentity,
} from './shared-audience.js';
import type { LeaveReason } from './stream-events.js';

export const SHARED_AUDIENCE_DEFAULTS = {
  /**
   * How often this origin's counters go to the shared state and the other origins' changes come
   * back. A SIGKILL loses at most this much of the killed origin's counting; sessions themselves
   * are in the shared state from their admission on.
   */
  flushIntervalMs: 250,
  /**
   * Requests waiting for an exchange (joins, look-ups) beyond this many are refused with a 503:
   * a slow shared state must not gather an unbounded queue.
   */
  maxWaitingExchanges: 64,
  /** An exchange unanswered this long makes health degraded (until it ends). */
  overdueMs: 500,
  /** How long a claimed identity waits for the stream creation it was claimed for. */
  claimValidMs: 10_000,
  /** Joins whose admission got no answer, remembered for a retry of the viewer here. */
  unansweredJoinsKept: 10_000,
} as const;

export interface MirroredAudienceOptions {
  readonly flushIntervalMs?: number;
  readonly maxWaitingExchanges?: number;
  readonly overdueMs?: number;
}

/** A session's figures that the shared state holds, as this origin last learned them. */
interface Figures {
  readonly counts: SessionCounters;
  readonly lastSeenAt: number;
  readonly lastSequence: number;
  readonly profile: ProfileName;
  readonly target: ProfileName;
  readonly bufferHealth: number;
  readonly throughputKbps: number;
}

interface Known {
  readonly viewerId: string;
  readonly anonymous: boolean;
  /** The shared figures as of the last exchange. */
  base: Figures;
  /** This origin's share of the counts, as the shared state acknowledged it. */
  mine: SessionCounters;
  /**
   * The session's last request here as of the last exchange (NaN: one came since that is not
   * sent yet). A change means a request here: sent whatever other origins' clocks say.
   */
  seenHere: number;
}

/** A stream whose audience is shared. */
interface Followed {
  readonly recordingId: string;
  readonly incarnation: string;
  since: number;
  readonly known: Map<string, Known>;
  served: { total: ServedCounts; mine: ServedCounts };
  leaves: Set<string>;
  endedAt: number | undefined;
  /** Sessions this origin admitted: it announces them. */
  readonly admittedHere: Set<string>;
  /** Sessions seated here the shared state lost, to send back (session id -> anonymous). */
  readmits: Map<string, boolean>;
}

/** What was sent for one stream, to reconcile the reply with what changed meanwhile. */
interface Sent {
  readonly followed: Followed;
  readonly request: ExchangeRequest;
  /** Local figures of the sessions as they were sent. */
  readonly figures: Map<string, Figures>;
  readonly served: ServedCounts;
  /** The sessions sent back (request.readmits) with their anonymity, to resend on a failure. */
  readonly readmits: Map<string, boolean>;
}

/**
 * The shared audience seen from one origin: every session of every shared stream is seated
 * here too (a mirror), so requests are served from memory and statistics read the whole
 * audience without asking anyone. Every `flushIntervalMs` one exchange per stream sends what
 * this origin counted and brings back what the others did; admissions and look-ups of unknown
 * sessions run an exchange at once. Exchanges run one at a time, so each reply is applied
 * against exactly what was sent.
 */
export class MirroredAudience implements SharedAudience {
  readonly shared = true;
  readonly expiresIdleLocally = false;
  private readonly followed = new Map<string, Followed>();
  /** Identities claimed for streams about to be created here, with when they were claimed. */
  private readonly claimed = new Map<string, { identity: StreamIdentity; at: number }>();
  /** Look-ups and refreshes waiting for their exchange, by stream: they share it. */
  private readonly pending = new Map<string, Promise<void>>();
  private chain: Promise<unknown> = Promise.resolve();
  /** Exchanges queued or running. */
  private waiting = 0;
  /** When the exchange now running was sent (performance.now()). */
  private sentAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  /** A tick asked for while one ran: it runs once more when that ends. */
  private again = false;
  private closed = false;
  private failure: string | undefined;
  private host: AudienceHost | undefined;

  constructor(
    private readonly store: AudienceStore,
    private readonly options: MirroredAudienceOptions = {},
  ) {}

  attach(host: AudienceHost): void {
    this.host = host;
  }

  async connect(): Promise<void> {
    await this.store.connect();
  }

  start(): void {
    this.timer ??= setInterval(
      () => this.tick(),
      this.options.flushIntervalMs ?? SHARED_AUDIENCE_DEFAULTS.flushIntervalMs,
    );
    this.timer.unref();
  }

  async close(timeoutMs?: number): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const endAt = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
    // What this origin counted since the last batch goes before the connection does, if in time.
    const last = this.serial(() => this.round([...this.followed.values()])).then(
      () => true,
      (error) => {
        this.hostOf().warn('could not send the last counts to the shared state', error);
        return true;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      if (timeoutMs !== undefined) timer = setTimeout(() => resolve(false), timeoutMs);
    });
    if (!(await Promise.race([last, late]))) {
      this.hostOf().warn('the last counts were not sent to the shared state in time', undefined);
    }
    clearTimeout(timer);
    await this.store.close(
      endAt === undefined ? undefined : Math.max(0, endAt - performance.now()),
    );
  }

  problems(): string[] {
    const overdueMs = this.options.overdueMs ?? SHARED_AUDIENCE_DEFAULTS.overdueMs;
    const waited = this.sentAt === undefined ? 0 : performance.now() - this.sentAt;
    const problem =
      this.store.problem() ??
      this.failure ??
      (waited > overdueMs ? `an exchange unanswered for ${Math.round(waited)} ms` : undefined);
    return problem === undefined ? [] : [`shared state ${this.store.location}: ${problem}`];
  }

  async claimStream(
    recordingId: string,
    proposal: StreamIdentity,
    exclusive: boolean,
  ): Promise<StreamIdentity> {
    const identity = await this.store.claimStream(recordingId, proposal, exclusive);
    if (!identity) throw new StreamExistsError(recordingId);
    const now = performance.now();
    // Claims whose stream was never created (their push failed) go.
    for (const [id, claim] of this.claimed) {
      if (!this.claimValid(claim.at, now)) this.claimed.delete(id);
    }
    this.claimed.set(recordingId, { identity, at: now });
    return identity;
  }

  identity(recordingId: string): StreamIdentity | undefined {
    const claimed = this.claimed.get(recordingId);
    this.claimed.delete(recordingId);
    // A claim whose stream was never created (its push failed) is not the stream's identity later.
    return claimed && this.claimValid(claimed.at, performance.now()) ? claimed.identity : undefined;
  }

  private claimValid(at: number, now: number): boolean {
    return now - at < SHARED_AUDIENCE_DEFAULTS.claimValidMs;
  }

  follow(recordingId: string, incarnation: string): void {
    if (this.followed.get(recordingId)?.incarnation === incarnation) return;
    this.followed.set(recordingId, {
      recordingId,
      incarnation,
      since: 0,
      known: new Map(),
      served: { total: { segments: 0, bytes: 0 }, mine: { segments: 0, bytes: 0 } },
      leaves: new Set(),
      endedAt: undefined,
      admittedHere: new Set(),
      readmits: new Map(),
    });
  }

  /** Stops sharing a stream removed here; its shared keys expire once no origin has it. */
  unfollow(recordingId: string): void {
    this.followed.delete(recordingId);
  }

  async admit(recordingId: string, request: SeatRequest): Promise<AdmitOutcome> {
    const followed = this.followed.get(recordingId);
    const distributor = this.hostOf().distributor(recordingId);
    if (!followed || !distributor) return 'unknown';
    const caps = distributor.profileCaps;
    const admit: AdmitRequest = {
      sessionId: request.sessionId,
      viewerId: request.viewerId,
      anonymous: request.anonymous,
      maxViewers: distributor.maxViewers,
      candidates: profilesAtOrBelow(request.initialBitrate).map((profile) => ({
        profile,
        cap: caps[profile],
      })),
    };
    this.admissible();
    const [reply] = await this.serial(() => this.round([followed], { followed, admit, request }));
    return reply?.admit ?? 'unknown';
  }

  async lookUp(recordingId: string, sessionId: string): Promise<void> {
    const followed = this.followed.get(recordingId);
    if (!followed || followed.known.has(sessionId)) return;
    await this.sync(followed);
  }

  async refresh(recordingId: string): Promise<void> {
    const followed = this.followed.get(recordingId);
    if (followed) await this.sync(followed);
  }

  /** One exchange of a stream, shared by every look-up and refresh asking before it started. */
  private sync(followed: Followed): Promise<void> {
    const { recordingId } = followed;
    let pending = this.pending.get(recordingId);
    if (!pending) {
      this.admissible();
      pending = this.serial(async () => {
        this.pending.delete(recordingId);
        await this.round([followed]);
      });
      this.pending.set(recordingId, pending);
    }
    return pending;
  }

  /** Refuses a request's exchange while too many wait already (a slow or stalled shared state). */
  private admissible(): void {
    const limit = this.options.maxWaitingExchanges ?? SHARED_AUDIENCE_DEFAULTS.maxWaitingExchanges;
    if (this.waiting >= limit) {
      throw new SharedStateUnavailableError(`${this.waiting} requests wait for it already`);
    }
  }

  async handOut(recordingId: string, sessionId: string, ttlMs: number): Promise<void> {
    await this.store.handOut(recordingId, sessionId, ttlMs);
  }

  async handedOut(sessionId: string): Promise<string | undefined> {
    return this.store.handedOut(sessionId);
  }

  left(recordingId: string, sessionId: string): void {
    const followed = this.followed.get(recordingId);
    if (!followed?.known.delete(sessionId)) return;
    followed.leaves.add(sessionId);
    followed.admittedHere.delete(sessionId);
    // Other origins should hear at once (the viewer may join again through one of them).
    this.tick();
  }

  ended(recordingId: string, at: number): void {
    const followed = this.followed.get(recordingId);
    if (followed) followed.endedAt = at;
  }

  announces(sessionId: string): boolean {
    for (const followed of this.followed.values()) {
      if (followed.admittedHere.has(sessionId)) return true;
    }
    return false;
  }

  /**
   * Sends counters now; one asked for while an exchange of every stream is under way runs once
   * more after it (a leave noted meanwhile goes then, not a whole interval later).
   */
  private tick(): void {
    if (this.closed) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    this.serial(() => this.round([...this.followed.values()]))
      .catch(() => {
        // round() recorded the failure for health; the next tick sends everything again.
      })
      .finally(() => {
        this.ticking = false;
        if (!this.again) return;
        this.again = false;
        this.tick();
      });
  }

  /** Runs `job` after every exchange before it. */
  private serial<T>(job: () => Promise<T>): Promise<T> {
    this.waiting++;
    const run = this.chain.then(job, job).finally(() => {
      this.waiting--;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** One exchange of `streams` (one request each, sent together); applies the replies. */
  private async round(
    streams: readonly Followed[],
    seat?: { followed: Followed; admit: AdmitRequest; request: SeatRequest },
  ): Promise<ExchangeReply[]> {
    const host = this.hostOf();
    const sent: Sent[] = [];
    for (const followed of streams) {
      const distributor = host.distributor(followed.recordingId);
      if (distributor?.incarnation !== followed.incarnation) continue;
      sent.push(
        this.capture(followed, distributor, seat?.followed === followed ? seat.admit : undefined),
      );
    }
    if (sent.length === 0) return [];
    let replies: ExchangeReply[];
    try {
      this.sentAt = performance.now();
      replies = await this.store.exchange(sent.map((s) => s.request));
      this.failure = undefined;
    } catch (error) {
      this.failure = error instanceof Error ? error.message : String(error);
      // Leaves, ends and sessions sent back go again with the next exchange; counters are sent
      // whole anyway.
      for (const s of sent) {
        for (const id of s.request.leaves) s.followed.leaves.add(id);
        if (s.request.endedAt !== undefined) s.followed.endedAt ??= s.request.endedAt;
        for (const [id, anonymous] of s.readmits) s.followed.readmits.set(id, anonymous);
      }
      throw error;
    } finally {
      this.sentAt = undefined;
    }
    sent.forEach((s, i) => {
      const reply = replies[i];
      if (reply) this.apply(s, reply, seat?.followed === s.followed ? seat.request : undefined);
    });
    return replies;
  }

  /** The request for one stream: what changed here since its figures were last shared. */
  private capture(
    followed: Followed,
    distributor: LiveDistributor,
    admit: AdmitRequest | undefined,
  ): Sent {
    const figures = new Map<string, Figures>();
    const updates: SessionUpdate[] = [];
    const readmits: ReadmitSession[] = [];
    const readmitted = new Map<string, boolean>();
    // A scan in memory each batch: cheaper than tracking every request that touches a session.
    for (const session of distributor.getAllViewerSessions()) {
      const known = followed.known.get(session.sessionId);
      const anonymous = followed.readmits.get(session.sessionId);
      if (!known && anonymous !== undefined) {
        figures.set(session.sessionId, figuresOf(session));
        readmits.push(readmitOf(session, anonymous));
        readmitted.set(session.sessionId, anonymous);
      }
      if (!known || unchanged(session, known)) continue;
      const now = figuresOf(session);
      figures.set(session.sessionId, now);
      updates.push(changes(session.sessionId, known, now));
    }
    const served = distributor.served;
    const { total, mine } = followed.served;
    const servedChanged = served.segments !== total.segments || served.bytes !== total.bytes;
    const leaves = [...followed.leaves];
    followed.leaves = new Set();
    const endedAt = followed.endedAt;
    followed.endedAt = undefined;
    followed.readmits = new Map();
    return {
      followed,
      figures,
      readmits: readmitted,
      served: { segments: served.segments, bytes: served.bytes },
      request: {
        recordingId: followed.recordingId,
        incarnation: followed.incarnation,
        live: distributor.status === 'live',
        maxViewers: distributor.maxViewers,
        dvrSeconds: distributor.dvrSeconds,
        since: followed.since,
        now: this.hostOf().now(),
        idleMs: this.hostOf().idleTimeoutMs,
        updates,
        served: servedChanged
          ? {
              segments: mine.segments + served.segments - total.segments,
              bytes: mine.bytes + served.bytes - total.bytes,
            }
          : undefined,
        leaves,
        endedAt,
        admit,
        readmits,
      },
    };
  }

  /** Brings the stream's sessions here in step with the shared state's reply. */
  private apply(sent: Sent, reply: ExchangeReply, seat: SeatRequest | undefined): void {
    const host = this.hostOf();
    const { followed } = sent;
    const distributor = host.distributor(followed.recordingId);
    if (distributor?.incarnation !== followed.incarnation) return;
    const remove = (sessionId: string, reason: LeaveReason | undefined) => {
      const known = followed.known.get(sessionId);
      followed.known.delete(sessionId);
      followed.admittedHere.delete(sessionId);
      if (!known || !distributor.hasViewer(known.viewerId)) return;
      const session = distributor.session(known.viewerId);
      if (session.sessionId !== sessionId) return;
      distributor.leaveViewer(known.viewerId);
      host.unseated(followed.recordingId, session, reason);
    };
    for (const sessionId of reply.expired) remove(sessionId, 'idle');
    for (const sessionId of reply.gone) remove(sessionId, undefined);
    const present = new Set(reply.sessions.map((s) => s.sessionId));
    if (reply.full) {
      for (const session of distributor.getAllViewerSessions()) {
        if (present.has(session.sessionId)) continue;
        if (reply.fresh) {
          // The shared state lost the audience, not the viewers: they go back with the next
          // exchange (soon: a tick now) rather than leave.
          const known = followed.known.get(session.sessionId);
          followed.readmits.set(session.sessionId, known?.anonymous ?? false);
          followed.known.delete(session.sessionId);
          continue;
        }
        followed.known.delete(session.sessionId);
        followed.admittedHere.delete(session.sessionId);
        distributor.leaveViewer(session.viewerId);
        host.unseated(followed.recordingId, session, undefined);
      }
      if (followed.readmits.size > 0) this.tick();
    }
    // A session sent back and not listed: its viewer took another seat meanwhile.
    for (const sessionId of sent.readmits.keys()) {
      if (present.has(sessionId)) continue;
      const session = [...distributor.getAllViewerSessions()].find(
        (s) => s.sessionId === sessionId,
      );
      if (!session || followed.known.has(sessionId)) continue;
      distributor.leaveViewer(session.viewerId);
      host.unseated(followed.recordingId, session, undefined);
    }
    for (const shared of reply.sessions) {
      const known = followed.known.get(shared.sessionId);
      // Seated here before the shared state listed it (restored after a restart, or sent back).
      const held = known ? undefined : this.heldHere(distributor, shared);
      const session =
        known && distributor.hasViewer(known.viewerId)
          ? distributor.session(known.viewerId)
          : (held ?? this.adopt(distributor, shared, seat));
      if (!session || session.sessionId !== shared.sessionId) continue;
      const sentFigures = sent.figures.get(shared.sessionId);
      // A request here after the exchange left goes with the next one.
      const seenAtSend = sentFigures?.lastSeenAt ?? known?.seenHere ?? session.lastSeenAt;
      const seenSince = session.lastSeenAt !== seenAtSend;
      const base = sentFigures ?? known?.base;
      if (known || held) this.update(distributor, session, base ?? figuresOf(session), shared);
      followed.known.set(shared.sessionId, {
        anonymous: shared.anonymous,
        viewerId: shared.viewerId,
        base: sharedFigures(shared),
        mine: shared.mine,
        seenHere: seenSince ? Number.NaN : session.lastSeenAt,
      });
      if (shared.origin === this.store.origin) followed.admittedHere.add(shared.sessionId);
    }
    // The stream's served totals: the shared total plus what was counted here since sending
    // (restore with time 0 sets the totals and nothing else).
    const local = distributor.served;
    const total = reply.served.total;
    distributor.restore(
      {
        served: {
          segments: total.segments + local.segments - sent.served.segments,
          bytes: total.bytes + local.bytes - sent.served.bytes,
        },
      },
      0,
    );
    followed.served = { total, mine: reply.served.mine };
    followed.since = reply.revision;
    if (reply.endedAt !== undefined && distributor.status === 'live') {
      host.endedElsewhere(followed.recordingId, reply.endedAt);
    }
  }

  /** The session seated here under the shared session's id, if there is one. */
  private heldHere(distributor: LiveDistributor, shared: SharedSession): ViewerSession | undefined {
    if (!distributor.hasViewer(shared.viewerId)) return undefined;
    const session = distributor.session(shared.viewerId);
    return session.sessionId === shared.sessionId ? session : undefined;
  }

  /**
   * Seats here a session of the shared audience. One no origin measured yet joins afresh (its
   * player's first buffer report is no fall, as on the origin that admitted it); one with
   * history is restored with it. The shared state already admitted it: the stream's cap is
   * not checked again.
   */
  private adopt(
    distributor: LiveDistributor,
    shared: SharedSession,
    seat: SeatRequest | undefined,
  ): ViewerSession | undefined {
    const host = this.hostOf();
    try {
      let session: ViewerSession | undefined;
      if (shared.bufferHealth === undefined && distributor.status === 'live') {
        try {
          // The seat asked for here lands as the shared state placed it, noting a full profile.
          const asked = seat?.sessionId === shared.sessionId ? seat.initialBitrate : shared.profile;
          session = distributor.joinViewer(
            shared.viewerId,
            asked,
            shared.joinedAt,
            shared.sessionId,
          );
          if (session.currentBitrate !== shared.profile) {
            distributor.observeBitrate(shared.viewerId, shared.profile, shared.joinedAt);
          }
          session.targetBitrate = shared.target;
        } catch {
          session = undefined; // full here by this origin's count: restored below without a cap
        }
      }
      session ??= distributor.restoreViewer({
        viewerId: shared.viewerId,
        sessionId: shared.sessionId,
        currentBitrate: shared.profile,
        targetBitrate: shared.target,
        joinedAt: shared.joinedAt,
        joinSeq: shared.joinSeq,
        lastSeenAt: shared.lastSeenAt,
        lastSequence: shared.lastSequence,
        segmentsReceived: shared.counts.segments,
        bytesReceived: shared.counts.bytes,
        bufferHealth: shared.bufferHealth ?? INITIAL_BUFFER_HEALTH,
        throughputKbps: shared.throughputKbps,
        bitrateHistory: [],
        lowBufferEvents: shared.counts.lowBufferEvents,
        stalls: shared.counts.stalls,
      });
      session.segmentsReceived = shared.counts.segments;
      session.bytesReceived = shared.counts.bytes;
      session.stalls = shared.counts.stalls;
      session.lowBufferEvents = shared.counts.lowBufferEvents;
      session.lastSeenAt = shared.lastSeenAt;
      session.lastSequence = shared.lastSequence;
      session.throughputKbps = shared.throughputKbps;
      if (shared.bufferHealth !== undefined) session.bufferHealth = shared.bufferHealth;
      host.seated(distributor.recordingId, session);
      return session;
    } catch (error) {
      host.warn(`could not seat shared session of '${distributor.recordingId}' here`, error);
      return undefined;
    }
  }

  /**
   * The shared figures, plus what was counted here since `sent` (what this origin's figures were
   * when the exchange left): counters add up; a field changed here since wins over the shared
   * one (it goes with the next exchange), an unchanged one takes the shared value.
   */
  private update(
    distributor: LiveDistributor,
    session: ViewerSession,
    sent: Figures,
    shared: SharedSession,
  ): void {
    session.segmentsReceived =
      shared.counts.segments + session.segmentsReceived - sent.counts.segments;
    session.bytesReceived = shared.counts.bytes + session.bytesReceived - sent.counts.bytes;
    session.stalls = shared.counts.stalls + session.stalls - sent.counts.stalls;
    session.lowBufferEvents =
      shared.counts.lowBufferEvents + session.lowBufferEvents - sent.counts.lowBufferEvents;
    session.lastSequence = Math.max(session.lastSequence, shared.lastSequence);
    const lastSeenAt = Math.max(session.lastSeenAt, shared.lastSeenAt);
    if (session.currentBitrate === sent.profile && shared.profile !== session.currentBitrate) {
      // Another origin saw the player take another rendition: per-profile counts move with it.
      distributor.observeBitrate(session.viewerId, shared.profile, lastSeenAt);
    }
    session.lastSeenAt = lastSeenAt;
    if (session.targetBitrate === sent.target) session.targetBitrate = shared.target;
    if (session.bufferHealth === sent.bufferHealth && shared.bufferHealth !== undefined) {
      session.bufferHealth = shared.bufferHealth;
    }
    if (session.throughputKbps === sent.throughputKbps) {
      session.throughputKbps = shared.throughputKbps;
    }
  }

  private hostOf(): AudienceHost {
    if (!this.host) throw new Error('MirroredAudience used before attach()');
    return this.host;
  }
}

function figuresOf(session: ViewerSession): Figures {
  return {
    counts: {
      segments: session.segmentsReceived,
      bytes: session.bytesReceived,
      stalls: session.stalls,
      lowBufferEvents: session.lowBufferEvents,
    },
    lastSeenAt: session.lastSeenAt,
    lastSequence: session.lastSequence,
    profile: session.currentBitrate,
    target: session.targetBitrate,
    bufferHealth: session.bufferHealth,
    throughputKbps: session.throughputKbps,
  };
}

/** A session seated here, to be seated again in a shared state that lost it. */
function readmitOf(session: ViewerSession, anonymous: boolean): ReadmitSession {
  return {
    sessionId: session.sessionId,
    viewerId: session.viewerId,
    anonymous,
    joinedAt: session.joinedAt,
    profile: session.currentBitrate,
    target: session.targetBitrate,
    bufferHealth: session.bufferHealth,
    throughputKbps: session.throughputKbps,
    lastSeenAt: session.lastSeenAt,
    lastSequence: session.lastSequence,
    counts: {
      segments: session.segmentsReceived,
      bytes: session.bytesReceived,
      stalls: session.stalls,
      lowBufferEvents: session.lowBufferEvents,
    },
  };
}

function sharedFigures(shared: SharedSession): Figures {
  return {
    counts: shared.counts,
    lastSeenAt: shared.lastSeenAt,
    lastSequence: shared.lastSequence,
    profile: shared.profile,
    target: shared.target,
    bufferHealth: shared.bufferHealth ?? INITIAL_BUFFER_HEALTH,
    throughputKbps: shared.throughputKbps,
  };
}

/** Whether nothing about a session changed here since the shared figures were last learned. */
function unchanged(session: ViewerSession, known: Known): boolean {
  const base = known.base;
  return (
    session.segmentsReceived === base.counts.segments &&
    session.bytesReceived === base.counts.bytes &&
    session.stalls === base.counts.stalls &&
    session.lowBufferEvents === base.counts.lowBufferEvents &&
    session.lastSeenAt === known.seenHere &&
    session.lastSequence <= base.lastSequence &&
    session.currentBitrate === base.profile &&
    session.targetBitrate === base.target &&
    session.bufferHealth === base.bufferHealth &&
    session.throughputKbps === base.throughputKbps
  );
}

/** What to send of a session that changed here since the last exchange. */
function changes(sessionId: string, known: Known, now: Figures): SessionUpdate {
  const base = known.base;
  const counted =
    now.counts.segments !== base.counts.segments ||
    now.counts.bytes !== base.counts.bytes ||
    now.counts.stalls !== base.counts.stalls ||
    now.counts.lowBufferEvents !== base.counts.lowBufferEvents;
  const update: {
    -readonly [K in keyof SessionUpdate]: SessionUpdate[K];
  } = { sessionId };
  if (counted) {
    update.mine = {
      segments: known.mine.segments + now.counts.segments - base.counts.segments,
      bytes: known.mine.bytes + now.counts.bytes - base.counts.bytes,
      stalls: known.mine.stalls + now.counts.stalls - base.counts.stalls,
      lowBufferEvents:
        known.mine.lowBufferEvents + now.counts.lowBufferEvents - base.counts.lowBufferEvents,
    };
  }
  if (now.lastSeenAt !== known.seenHere) {
    update.lastSeenAt = now.lastSeenAt;
  }
  if (now.lastSequence > base.lastSequence) {
    update.lastSequence = now.lastSequence;
  }
  if (now.profile !== base.profile) {
    update.profile = now.profile;
  }
  if (now.target !== base.target) {
    update.target = now.target;
  }
  if (now.bufferHealth !== base.bufferHealth) {
    update.bufferHealth = now.bufferHealth;
  }
  if (now.throughputKbps !== base.throughputKbps) {
    update.throughputKbps = now.throughputKbps;
  }
  return update;
}

import type { ProfileName } from './profiles.js';
import { BUFFER_THRESHOLDS, type ConnectionQuality, inferConnectionQuality } from './quality.js';
import type { Segment } from './segment.js';
import type { SteeredRendition } from './steered-rendition.js';

export type SwitchReason = 'manual' | 'adaptation' | 'profile_full' | 'observed';

/** One entry of a viewer's bitrate-switch history. */
export interface BitrateSwitch {
  readonly from: ProfileName;
  readonly to: ProfileName;
  /** ms since the epoch */
  readonly at: number;
  readonly reason: SwitchReason;
  /** The adaptation policy's reason for it, when a policy made it. */
  readonly detail?: string | undefined;
}

/** Switches a session remembers; older ones are dropped so a flapping player stays bounded. */
export const MAX_HISTORY = 100;

/** A session as it stood: what restart recovery brings back (the same id, counters and history). */
export interface ViewerSessionState {
  readonly viewerId: string;
  readonly sessionId: string;
  readonly currentBitrate: ProfileName;
  readonly targetBitrate: ProfileName;
  readonly joinedAt: number;
  readonly joinSeq: number;
  readonly lastSeenAt: number;
  readonly lastSequence: number;
  readonly segmentsReceived: number;
  readonly bytesReceived: number;
  readonly bufferHealth: number;
  readonly throughputKbps: number;
  readonly bitrateHistory: readonly BitrateSwitch[];
  /** Attendance counters (see ViewerSession); absent in states stored before they existed. */
  readonly lowBufferEvents?: number | undefined;
  readonly stalls?: number | undefined;
  readonly switchCount?: number | undefined;
  /** Milliseconds at each profile up to `lastSeenAt`. */
  readonly profileMs?: Readonly<Partial<Record<ProfileName, number>>> | undefined;
}

/** Per-segment throughput samples a session keeps for its adaptation policy. */
export const THROUGHPUT_SAMPLES = 8;

/** Buffer health a viewer starts with before it reports one (the seed's 50.0). */
export const INITIAL_BUFFER_HEALTH = 50;

/**
 * One viewer's connection to one stream and what it has received.
 * Lists are created on first use so an idle session stays small.
 */
export class ViewerSession {
  segmentsReceived = 0;
  bytesReceived = 0;
  bufferHealth = INITIAL_BUFFER_HEALTH;
  lastSeenAt: number;
  /** Sequence of the newest segment handed to this viewer; -1 before the first. */
  lastSequence = -1;
  /** Smoothed throughput the viewer achieves, in kbit/s; 0 until measured. */
  throughputKbps = 0;
  /** The buffer length the player last reported (CMCD `bl`), in seconds; undefined until then. */
  bufferSec: number | undefined;
  /**
   * Set when the server chooses this viewer's renditions inside one media playlist (a steered
   * session, README "Server-side steering"); undefined for players that choose their own.
   */
  steering: SteeredRendition | undefined;
  /** Why the policy chose a steered viewer's target (recorded when the player follows it). */
  steeringReason: string | undefined;
  /** The profile adaptation would choose for a player that picks its own bitrate. */
  recommendedBitrate: ProfileName | undefined;
  /**
   * Times buffer health fell under the critical threshold (20): counted when it crosses, so a
   * player reporting a low buffer on every request counts once until it recovers.
   */
  lowBufferEvents = 0;
  /**
   * Stalls the player reported (CMCD `bs`, buffer starvation since its previous request): a run
   * of requests each carrying `bs` is one stall that lasted across them, counted once.
   */
  stalls = 0;
  /** Rendition changes ever made; the history below keeps only the newest MAX_HISTORY. */
  switchCount = 0;
  private starved = false;
  private bufferMeasured = false;
  /** Milliseconds at each profile up to `profileSince` (the current one runs from there). */
  private readonly profileTime: Partial<Record<ProfileName, number>> = {};
  private profileSince: number;
  private switches: BitrateSwitch[] | undefined;
  private samples: number[] | undefined;
  private playerMeasured = false;
  private fetchedBufferSec = 0;
  private fetchedAt: number | undefined;
  private backlog: Segment[] | undefined;

  /**
   * The bitrate the server last chose for this viewer (join, switch, adaptation). A player that
   * picks its own rendition may still be fetching another: that one is `currentBitrate`.
   */
  targetBitrate: ProfileName;

  constructor(
    readonly viewerId: string,
    readonly sessionId: string,
    /** The bitrate this viewer actually receives. */
    public currentBitrate: ProfileName,
    readonly joinedAt: number,
    /** Order of joining within its stream: viewer rows are paged by it. */
    readonly joinSeq = 0,
  ) {
    this.lastSeenAt = joinedAt;
    this.targetBitrate = currentBitrate;
    this.profileSince = joinedAt;
  }

  /** A session as `state` describes it (restart recovery); its backlog starts empty. */
  static restore(state: ViewerSessionState): ViewerSession {
    const session = new ViewerSession(
      state.viewerId,
      state.sessionId,
      state.currentBitrate,
      state.joinedAt,
      state.joinSeq,
    );
    session.targetBitrate = state.targetBitrate;
    session.lastSeenAt = state.lastSeenAt;
    session.lastSequence = state.lastSequence;
    session.segmentsReceived = state.segmentsReceived;
    session.bytesReceived = state.bytesReceived;
    session.bufferHealth = state.bufferHealth;
    session.throughputKbps = state.throughputKbps;
    if (state.bitrateHistory.length > 0) {
      session.switches = state.bitrateHistory.slice(-MAX_HISTORY);
    }
    session.bufferMeasured = true;
    session.lowBufferEvents = state.lowBufferEvents ?? 0;
    session.stalls = state.stalls ?? 0;
    session.switchCount = state.switchCount ?? state.bitrateHistory.length;
    if (state.profileMs) {
      Object.assign(session.profileTime, state.profileMs);
      // The stored times run to the last request; the time the server was down is not watching.
      session.profileSince = state.lastSeenAt;
    }
    return session;
  }

  /** Connection quality inferred from buffer health (thresholds in quality.ts). */
  get connectionQuality(): ConnectionQuality {
    return inferConnectionQuality(this.bufferHealth);
  }

  /** Bitrate switches, oldest first. */
  get bitrateHistory(): readonly BitrateSwitch[] {
    return this.switches ?? [];
  }

  /** Segments delivered to this viewer that it has not fetched yet. */
  get backlogSize(): number {
    return this.backlog?.length ?? 0;
  }

  /** The server moves the viewer to `to`: both its target and what it receives. */
  switchTo(to: ProfileName, at: number, reason: SwitchReason, detail?: string): void {
    this.targetBitrate = to;
    this.record(to, at, reason, detail);
  }

  /** The viewer was seen fetching `to` (its player's own choice); the server's target stays. */
  observe(to: ProfileName, at: number): void {
    this.record(to, at, 'observed');
  }

  /**
   * Milliseconds at each profile from joining to `until` (the last request, for watch time).
   * A switch recorded after `until` (an API switch after the last request) ends the time there.
   */
  profileMs(until: number = this.lastSeenAt): Partial<Record<ProfileName, number>> {
    const time = { ...this.profileTime };
    const current = this.currentBitrate;
    time[current] = (time[current] ?? 0) + Math.max(0, until - this.profileSince);
    return time;
  }

  private record(to: ProfileName, at: number, reason: SwitchReason, detail?: string): void {
    if (to === this.currentBitrate) return;
    const from = this.currentBitrate;
    this.profileTime[from] = (this.profileTime[from] ?? 0) + Math.max(0, at - this.profileSince);
    this.profileSince = Math.max(this.profileSince, at);
    this.switchCount++;
    this.switches ??= [];
    if (this.switches.length >= MAX_HISTORY) this.switches.shift();
    // Two literal shapes rather than a spread: this runs on every switch, and a spread is slow.
    this.switches.push(
      detail === undefined ? { from, to, at, reason } : { from, to, at, reason, detail },
    );
    this.currentBitrate = to;
  }

  /** Counts a segment (`bytes` of it) as handed to this viewer and moves its cursor. */
  receive(segment: Pick<Segment, 'sequence'>, now: number, bytes: number): void {
    this.segmentsReceived++;
    this.bytesReceived += bytes;
    if (segment.sequence > this.lastSequence) this.lastSequence = segment.sequence;
    this.lastSeenAt = now;
  }

  /**
   * A steered player's buffer by the server's count, for players that report none: each whole
   * segment fetched adds its duration and wall time drains it (a player plays in real time once
   * it has media), never below empty. Undefined for a player that chooses its own rendition.
   */
  estimatedBufferSec(now: number): number | undefined {
    if (!this.steering || this.fetchedAt === undefined) return undefined;
    return Math.max(0, this.fetchedBufferSec - (now - this.fetchedAt) / 1000);
  }

  /** Counts `durationSec` of media a steered player fetched at `now` (see estimatedBufferSec). */
  noteFetched(durationSec: number, now: number): void {
    if (!this.steering) return;
    this.fetchedBufferSec = (this.estimatedBufferSec(now) ?? 0) + durationSec;
    this.fetchedAt = now;
  }

  /** The newest throughput samples (kbit/s), oldest first, at most THROUGHPUT_SAMPLES. */
  get throughputSamples(): readonly number[] {
    return this.samples ?? [];
  }

  /**
   * Keeps a throughput sample for the adaptation policy and folds it into the smoothed estimate
   * shown in the viewer's row (EWMA, weight 0.3 on the new sample). The player's own measure
   * wins: a server's write completes once the socket buffers take the bytes, long before the
   * player has them, so the server's timing stands in only until the player reports one.
   */
  recordThroughput(kbps: number, measuredBy: 'player' | 'server' = 'player'): void {
    if (!(kbps > 0) || !Number.isFinite(kbps)) return;
    if (measuredBy === 'server' && this.playerMeasured) return;
    if (measuredBy === 'player' && !this.playerMeasured) {
      this.playerMeasured = true;
      this.samples = undefined;
      this.throughputKbps = 0;
    }
    this.samples ??= [];
    if (this.samples.length >= THROUGHPUT_SAMPLES) this.samples.shift();
    this.samples.push(kbps);
    this.throughputKbps = this.throughputKbps === 0 ? kbps : 0.7 * this.throughputKbps + 0.3 * kbps;
  }

  /** Sets buffer health, counting a low-buffer event when it falls under the threshold. */
  updateBuffer(bufferHealth: number, now: number): void {
    const critical = BUFFER_THRESHOLDS.critical;
    // A fall from a measured health: the seed value before the first report is no measure (a
    // player's first report, an empty buffer before playback starts, is no event).
    if (this.bufferMeasured && bufferHealth < critical && !(this.bufferHealth < critical))
      this.lowBufferEvents++;
    this.bufferHealth = bufferHealth;
    this.bufferMeasured = true;
    this.lastSeenAt = now;
  }

  /**
   * Notes whether the player reported buffer starvation (CMCD `bs`) on a request. A stall is
   * counted when a report carries it after one that did not; its length is not known (CMCD says
   * only that the buffer ran dry at some point since the previous request).
   */
  reportStarvation(starved: boolean): void {
    if (starved && !this.starved) {
      this.stalls++;
      // The buffer ran dry since the previous request: health fell to 0 on the way, whatever
      // the player refilled before asking again (CTA-5004 bs).
      if (!(this.bufferHealth < BUFFER_THRESHOLDS.critical)) this.lowBufferEvents++;
      this.bufferHealth = 0;
    }
    this.starved = starved;
  }

  pushBacklog(segment: Segment): void {
    this.backlog ??= [];
    this.backlog.push(segment);
  }

  shiftBacklog(): Segment | undefined {
    return this.backlog?.shift();
  }
}

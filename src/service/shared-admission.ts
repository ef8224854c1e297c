import type { LiveDistributor } from '../core/distributor.js';
import {
  DistributionError,
  ProfileFullError,
  StreamEndedError,
  type StreamFullError,
  StreamNotFoundError,
  ViewerExistsError,
} from '../core/errors.js';
import type { ProfileName } from '../core/profiles.js';
import type { ViewerSession } from '../core/viewer-session.js';
import { SHARED_AUDIENCE_DEFAULTS } from './audience-mirror.js';
import type { AdmitOutcome } from './audience-store.js';
import type { SessionRef } from './session-index.js';
import {
  type SharedAudience,
  SharedStateUnavailableError,
  type StreamIdentity,
} from './shared-audience.js';

/** What shared admission needs of the service (DistributionService provides it). */
export interface AdmissionHost {
  /** The stream's distributor here, if it holds the stream. */
  distributor(recordingId: string): LiveDistributor | undefined;
  /** The refusal of a full stream, announced as the service announces it. */
  streamFull(recordingId: string): StreamFullError;
  findSession(sessionId: string): SessionRef | undefined;
  /** Announces the join of a session seated here. */
  announceJoin(recordingId: string, session: ViewerSession, anonymous: boolean): void;
  newSessionId(): string;
  newAnonymousId(): string;
  /** How long an anonymous session handed out waits for its first segment. */
  readonly handOutTtlMs: number;
  warn(message: string, error: unknown): void;
}

/**
 * The asynchronous side of joins and streams when several origins share one audience: each
 * call asks the shared state first (SharedAudience) and leaves this origin seated as it agreed,
 * and announces only what it admitted. Without a shared audience every call returns at once
 * and the service joins on its own, as before.
 */
export class SharedAdmission {
  /**
   * Joins whose admission got no answer (a timeout, the connection lost): seat key -> the
   * session id asked for. The shared state may have seated it; a retry of the viewer here asks
   * for the same session and gets `already` instead of VIEWER_EXISTS.
   */
  private readonly unanswered = new Map<string, string>();

  constructor(
    private readonly audience: SharedAudience,
    private readonly host: AdmissionHost,
  ) {}

  get shared(): boolean {
    return this.audience.shared;
  }

  /**
   * Shares a stream created here. One created without an agreed identity (a built-in encoder,
   * say) offers its own: an origin creating it later takes the same URLs.
   */
  follow(distributor: LiveDistributor, offer: boolean): void {
    if (!this.audience.shared) return;
    const { recordingId, incarnation } = distributor;
    this.audience.follow(recordingId, incarnation);
    if (!offer) return;
    const own = {
      incarnation,
      maxViewers: distributor.maxViewers,
      dvrSeconds: distributor.dvrSeconds,
    };
    this.audience.claimStream(recordingId, own, false).then(
      (agreed) => {
        if (agreed.incarnation === incarnation) return;
        this.host.warn(
          `stream '${recordingId}' started here while another origin held it: its segment URLs differ between origins`,
          undefined,
        );
      },
      (error) => this.host.warn(`could not share stream '${recordingId}'`, error),
    );
  }

  /** Agrees a stream's identity before it is created here (see DistributionService.prepareStream). */
  async claimStream(
    recordingId: string,
    proposal: StreamIdentity,
    exclusive: boolean,
  ): Promise<void> {
    await this.call(() => this.audience.claimStream(recordingId, proposal, exclusive));
  }

  /**
   * Joins a viewer under the stream's cap across every origin: admitted by the shared state,
   * seated here as it agreed, and announced. Called once the request is authorised: nothing is
   * seated for a request refused before.
   */
  async join(
    recordingId: string,
    viewerId: string,
    initialBitrate: ProfileName,
  ): Promise<ViewerSession> {
    const distributor = this.host.distributor(recordingId);
    if (!distributor) throw new StreamNotFoundError(recordingId);
    if (distributor.status === 'ended') throw new StreamEndedError(recordingId);
    const key = seatKey(recordingId, viewerId);
    const sessionId = this.unanswered.get(key) ?? this.host.newSessionId();
    this.unanswered.delete(key);
    let outcome: AdmitOutcome;
    try {
      outcome = await this.audience.admit(recordingId, {
        viewerId,
        sessionId,
        initialBitrate,
        anonymous: false,
      });
    } catch (error) {
      if (!(error instanceof DistributionError)) this.noteUnanswered(key, sessionId);
      throw this.failed(error);
    }
    this.refuse(recordingId, outcome, viewerId, initialBitrate);
    // `already`: a join of this viewer here whose answer was lost seated it; announced now.
    return this.announce(recordingId, sessionId, false);
  }

  private noteUnanswered(key: string, sessionId: string): void {
    this.unanswered.set(key, sessionId);
    // Bounded: the oldest go first (their seats expire idle in the shared state anyway).
    for (const oldest of this.unanswered.keys()) {
      if (this.unanswered.size <= SHARED_AUDIENCE_DEFAULTS.unansweredJoinsKept) break;
      this.unanswered.delete(oldest);
    }
  }

  /** Seats an anonymous session at its first segment, under the cap across every origin. */
  async admitAnonymous(recordingId: string, sessionId: string): Promise<ViewerSession> {
    const viewerId = this.host.newAnonymousId();
    const outcome = await this.call(() =>
      this.audience.admit(recordingId, {
        viewerId,
        sessionId,
        initialBitrate: 'Low',
        anonymous: true,
      }),
    );
    this.refuse(recordingId, outcome, viewerId, 'Low');
    // `already`: another request (here or elsewhere) seated it first, and announced it.
    if (outcome === 'seated') return this.announce(recordingId, sessionId, true);
    const found = this.host.findSession(sessionId);
    if (!found) throw new SharedStateUnavailableError('the admitted seat did not arrive');
    return found.session;
  }

  /** Brings the stream's audience up to date if `sessionId` is unknown here. */
  async lookUp(recordingId: string, sessionId: string): Promise<void> {
    if (!this.audience.shared || this.host.findSession(sessionId)) return;
    if (!this.host.distributor(recordingId)) return;
    await this.call(() => this.audience.lookUp(recordingId, sessionId));
  }

  /** Whether another origin handed out this anonymous session for the stream. */
  async handedOutElsewhere(recordingId: string, sessionId: string): Promise<boolean> {
    if (!this.audience.shared) return false;
    return (await this.call(() => this.audience.handedOut(sessionId))) === recordingId;
  }

  /** Brings a stream's audience up to date now. */
  async refresh(recordingId: string): Promise<void> {
    if (this.audience.shared && this.host.distributor(recordingId)) {
      await this.call(() => this.audience.refresh(recordingId));
    }
  }

  /** Tells the other origins of an anonymous session handed out here (best effort). */
  async handOut(recordingId: string, sessionId: string): Promise<void> {
    if (!this.audience.shared) return;
    await this.audience
      .handOut(recordingId, sessionId, this.host.handOutTtlMs)
      .catch((error) => this.host.warn('could not share an anonymous session', error));
  }

  /** Throws the error a local join would for an admission the shared state refused. */
  private refuse(
    recordingId: string,
    outcome: AdmitOutcome | undefined,
    viewerId: string,
    initialBitrate: ProfileName,
  ): void {
    if (outcome === 'seated' || outcome === 'already') return;
    if (outcome === 'full') throw this.host.streamFull(recordingId);
    if (outcome === 'exists') throw new ViewerExistsError(recordingId, viewerId);
    if (outcome === 'profile_full') throw new ProfileFullError(initialBitrate);
    throw new StreamNotFoundError(recordingId);
  }

  /** Announces the join of a session the shared audience seated here. */
  private announce(recordingId: string, sessionId: string, anonymous: boolean): ViewerSession {
    const found = this.host.findSession(sessionId);
    if (!found || found.recordingId !== recordingId) {
      throw new SharedStateUnavailableError('the admitted seat did not arrive');
    }
    this.host.announceJoin(recordingId, found.session, anonymous);
    return found.session;
  }

  /** Runs a call to the shared state; its failure is a 503 naming the state, not a 500. */
  private async call<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw this.failed(error);
    }
  }

  private failed(error: unknown): unknown {
    if (error instanceof DistributionError) return error;
    this.host.warn('the shared state failed a request', error);
    return new SharedStateUnavailableError(this.audience.problems()[0] ?? String(error));
  }
}

/** Key of a viewer's seat in a stream. */
function seatKey(recordingId: string, viewerId: string): string {
  return `${recordingId}\u0000${viewerId}`;
}

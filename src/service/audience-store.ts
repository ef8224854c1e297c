import type { ProfileName } from '../core/profiles.js';
import type { StreamIdentity } from './shared-audience.js';

/** A session's counters that add up over origins. */
export interface SessionCounters {
  readonly segments: number;
  readonly bytes: number;
  readonly stalls: number;
  readonly lowBufferEvents: number;
}

export const NO_COUNTS: SessionCounters = { segments: 0, bytes: 0, stalls: 0, lowBufferEvents: 0 };

/** Segments and bytes a stream served (to sessions and to nobody in particular). */
export interface ServedCounts {
  readonly segments: number;
  readonly bytes: number;
}

/** One session as the shared state holds it. */
export interface SharedSession {
  readonly sessionId: string;
  readonly viewerId: string;
  /** Order of its admission within its stream, over every origin. */
  readonly joinSeq: number;
  readonly joinedAt: number;
  readonly anonymous: boolean;
  /** The origin that admitted it (and announces it). */
  readonly origin: string;
  readonly profile: ProfileName;
  readonly target: ProfileName;
  /** Undefined until some origin had a buffer report from its player. */
  readonly bufferHealth: number | undefined;
  readonly throughputKbps: number;
  readonly lastSeenAt: number;
  readonly lastSequence: number;
  /** Totals over every origin. */
  readonly counts: SessionCounters;
  /** This origin's share of the totals. */
  readonly mine: SessionCounters;
}

/**
 * What changed about a session here since the last exchange. Counters go as this origin's whole
 * share so far, not as a delta: an exchange sent twice (a reply lost with the connection) then
 * counts once. The other fields are sent only when they changed here.
 */
export interface SessionUpdate {
  readonly sessionId: string;
  readonly mine?: SessionCounters;
  readonly lastSeenAt?: number;
  readonly lastSequence?: number;
  readonly profile?: ProfileName;
  readonly target?: ProfileName;
  readonly bufferHealth?: number;
  readonly throughputKbps?: number;
}

/** A seat asked for in an exchange (see AudienceStore.exchange). */
export interface AdmitRequest {
  readonly sessionId: string;
  readonly viewerId: string;
  readonly anonymous: boolean;
  readonly maxViewers: number;
  /** Profiles from the one asked for downwards, each with its cap: the first with room is taken. */
  readonly candidates: readonly { readonly profile: ProfileName; readonly cap: number }[];
}

/** `seated`: admitted now; `already`: seated before (by another origin); `unknown`: not admitted. */
export type AdmitOutcome = 'seated' | 'already' | 'full' | 'exists' | 'profile_full' | 'unknown';

/**
 * A session this origin seats that the shared state lost (it restarted empty, or was away past
 * the key lifetime): sent back as it is here.
 */
export type ReadmitSession = Omit<SharedSession, 'joinSeq' | 'origin' | 'mine' | 'bufferHealth'> & {
  readonly bufferHealth: number;
};

/** One stream's side of an exchange. */
export interface ExchangeRequest {
  readonly recordingId: string;
  readonly incarnation: string;
  /** The stream's record is recreated from these when the shared state lost it (a live stream). */
  readonly live: boolean;
  readonly maxViewers: number;
  readonly dvrSeconds: number;
  /** The revision of the stream's audience this origin has seen (0: none). */
  readonly since: number;
  readonly now: number;
  /** Sessions idle this long leave (0: none expire). */
  readonly idleMs: number;
  readonly updates: readonly SessionUpdate[];
  /** This origin's whole share of the stream's served totals, when it changed. */
  readonly served?: ServedCounts | undefined;
  /** Sessions that left here. */
  readonly leaves: readonly string[];
  /** When the stream ended here, if it did since the last exchange. */
  readonly endedAt?: number | undefined;
  readonly admit?: AdmitRequest | undefined;
  /** Sessions to seat again as they are (the shared state lost them). */
  readonly readmits?: readonly ReadmitSession[];
}

export interface ExchangeReply {
  readonly revision: number;
  /** `sessions` is the whole audience: sessions not in it are gone (this origin fell behind). */
  readonly full: boolean;
  readonly admit: AdmitOutcome | undefined;
  /** Sessions changed since `since` (admitted, counted, moved), in admission order. */
  readonly sessions: readonly SharedSession[];
  /** Sessions that left or expired since `since`, elsewhere or here. */
  readonly gone: readonly string[];
  /** Sessions this exchange expired for idleness: this origin announces their leave. */
  readonly expired: readonly string[];
  readonly served: { readonly total: ServedCounts; readonly mine: ServedCounts };
  /** When any origin ended the stream, if one did. */
  readonly endedAt: number | undefined;
  /**
   * The shared state held no audience for the stream before this exchange (it lost its keys):
   * `sessions` is then whole but says nothing of the sessions this origin seats.
   */
  readonly fresh: boolean;
}

/**
 * Where origins share their audience (Redis in src/storage/redis-audience.ts). One exchange per
 * stream carries everything: this origin's counters and leaves in, expiry, an optional
 * admission, and back what every origin changed since this one last looked, atomically.
 */
export interface AudienceStore {
  /** This origin's id in the shared state (a new one per process). */
  readonly origin: string;
  /** Where the state lives, for messages (no credentials). */
  readonly location: string;
  connect(): Promise<void>;
  /**
   * The identity of a stream: the live one if any origin has it (undefined when `exclusive`),
   * else `proposal`, now shared.
   */
  claimStream(
    recordingId: string,
    proposal: StreamIdentity,
    exclusive: boolean,
  ): Promise<StreamIdentity | undefined>;
  exchange(requests: readonly ExchangeRequest[]): Promise<ExchangeReply[]>;
  /** Notes an anonymous session handed out here, waiting for its first segment for `ttlMs`. */
  handOut(recordingId: string, sessionId: string, ttlMs: number): Promise<void>;
  /** The stream an anonymous session was handed out for, while it waits for its first segment. */
  handedOut(sessionId: string): Promise<string | undefined>;
  /** Why the store cannot be reached now, if it cannot. */
  problem(): string | undefined;
  /** Disconnects, within `timeoutMs` when given. */
  close(timeoutMs?: number): Promise<void>;
}

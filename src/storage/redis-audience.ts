import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { PROFILE_NAMES, type ProfileName } from '../core/profiles.js';
import type {
  AdmitOutcome,
  AudienceStore,
  ExchangeReply,
  ExchangeRequest,
  SessionCounters,
  SharedSession,
} from '../service/audience-store.js';
import type { StreamIdentity } from '../service/shared-audience.js';
import { CLAIM_SCRIPT, EXCHANGE_SCRIPT } from './redis-audience-scripts.js';

/** What a Redis audience defaults to (see RedisAudienceOptions). */
export const REDIS_AUDIENCE_DEFAULTS = {
  keyPrefix: 'vtp:',
  /**
   * Keys of a stream live this long after the last exchange of any origin (and at least four
   * idle timeouts): Redis forgets a stream no origin holds any more by itself.
   */
  minKeyTtlMs: 120_000,
  /** Departed sessions remembered per stream for origins that fell behind. */
  tombstones: 10_000,
  connectTimeoutMs: 5000,
  /**
   * A command unanswered this long fails (a join then gets a 503): a Redis that stalls must not
   * stall the requests waiting on it.
   */
  commandTimeoutMs: 1000,
} as const;

export interface RedisAudienceOptions {
  readonly keyPrefix?: string;
  readonly minKeyTtlMs?: number;
  readonly tombstones?: number;
  readonly connectTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
}

/** The error a start-up without the shared state stops with: it names the setting. */
export class SharedStateUnreachableError extends Error {}

const ADMIT_OUTCOMES: ReadonlySet<string> = new Set([
  'seated',
  'already',
  'full',
  'exists',
  'profile_full',
  'unknown',
]);

/** The custom commands the scripts become (ioredis runs them with EVALSHA). */
interface Scripted {
  vtpExchange(...args: (string | number)[]): unknown;
  vtpClaim(...args: (string | number)[]): Promise<[string, string, string] | null>;
}

/**
 * The audience shared by several origins, in Redis (`--state-url redis://HOST:PORT`). Every
 * check-and-write runs as one Lua script (redis-audience-scripts.ts), so admissions are atomic
 * across origins; the exchanges of a round go in one pipeline. One Redis server (or a primary
 * with replicas), not Redis Cluster: a script touches its session keys by name.
 */
export class RedisAudienceStore implements AudienceStore {
  readonly origin = `o-${randomBytes(6).toString('hex')}`;
  readonly location: string;
  private readonly redis: Redis;
  private readonly prefix: string;
  private lastError: string | undefined;

  constructor(
    url: string,
    private readonly options: RedisAudienceOptions = {},
  ) {
    const parsed = new URL(url);
    // Where, never who: a password in the URL stays out of messages and health.
    this.location = `${parsed.protocol}//${parsed.host}`;
    this.prefix = options.keyPrefix ?? REDIS_AUDIENCE_DEFAULTS.keyPrefix;
    this.redis = new Redis(url, {
      lazyConnect: true,
      // Fail at once while Redis is away: a join gets a 503 rather than waiting for it.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: options.connectTimeoutMs ?? REDIS_AUDIENCE_DEFAULTS.connectTimeoutMs,
      commandTimeout: options.commandTimeoutMs ?? REDIS_AUDIENCE_DEFAULTS.commandTimeoutMs,
      retryStrategy: (times) => Math.min(100 * times, 2000),
      scripts: {
        vtpExchange: { numberOfKeys: 7, lua: EXCHANGE_SCRIPT },
        vtpClaim: { numberOfKeys: 1, lua: CLAIM_SCRIPT },
      },
    });
    this.redis.on('error', (error: Error) => {
      this.lastError = error.message;
    });
    this.redis.on('ready', () => {
      this.lastError = undefined;
    });
  }

  async connect(): Promise<void> {
    try {
      await this.redis.connect();
    } catch (error) {
      const reason = this.lastError ?? (error instanceof Error ? error.message : String(error));
      this.redis.disconnect();
      throw new SharedStateUnreachableError(
        `cannot reach the shared state at ${this.location} (--state-url / VTP_STATE_URL): ${reason}`,
      );
    }
  }

  problem(): string | undefined {
    if (this.redis.status === 'ready') return undefined;
    return `unreachable (${this.lastError ?? this.redis.status})`;
  }

  async close(timeoutMs?: number): Promise<void> {
    // A polite QUIT while there is time; the connection goes regardless after it.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      if (timeoutMs !== undefined) timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([this.redis.quit().catch(() => undefined), late]);
    clearTimeout(timer);
    this.redis.disconnect();
  }

  async claimStream(
    recordingId: string,
    proposal: StreamIdentity,
    exclusive: boolean,
  ): Promise<StreamIdentity | undefined> {
    const claimed = await (this.redis as unknown as Scripted).vtpClaim(
      `${this.prefix}stream:${recordingId}`,
      proposal.incarnation,
      proposal.maxViewers,
      proposal.dvrSeconds,
      exclusive ? '1' : '0',
      this.options.minKeyTtlMs ?? REDIS_AUDIENCE_DEFAULTS.minKeyTtlMs,
    );
    if (!claimed) return undefined;
    const [incarnation, maxViewers, dvrSeconds] = claimed;
    return { incarnation, maxViewers: Number(maxViewers), dvrSeconds: Number(dvrSeconds) };
  }

  async handOut(recordingId: string, sessionId: string, ttlMs: number): Promise<void> {
    await this.redis.set(`${this.prefix}handed:${sessionId}`, recordingId, 'PX', ttlMs);
  }

  async handedOut(sessionId: string): Promise<string | undefined> {
    return (await this.redis.get(`${this.prefix}handed:${sessionId}`)) ?? undefined;
  }

  async exchange(requests: readonly ExchangeRequest[]): Promise<ExchangeReply[]> {
    const pipeline = this.redis.pipeline();
    const scripted = pipeline as unknown as Scripted;
    for (const request of requests) {
      const base = `${this.prefix}aud:${request.recordingId}:${request.incarnation}:`;
      const ttl = Math.max(
        this.options.minKeyTtlMs ?? REDIS_AUDIENCE_DEFAULTS.minKeyTtlMs,
        4 * request.idleMs,
      );
      scripted.vtpExchange(
        `${base}seats`,
        `${base}viewers`,
        `${base}profiles`,
        `${base}changed`,
        `${base}gone`,
        `${base}meta`,
        `${this.prefix}stream:${request.recordingId}`,
        JSON.stringify(wireRequest(request)),
        `${this.prefix}sess:`,
        `${this.prefix}handed:`,
        ttl,
        this.options.tombstones ?? REDIS_AUDIENCE_DEFAULTS.tombstones,
        this.origin,
      );
    }
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, reply]) => {
      if (error) throw error;
      return this.readReply(String(reply));
    });
  }

  private readReply(text: string): ExchangeReply {
    const [rev, full, admit, sessions, gone, expired, segs, bytes, mine, ended, fresh] = JSON.parse(
      text,
    ) as [
      number,
      boolean,
      string | false,
      unknown,
      unknown,
      unknown,
      string,
      string,
      string,
      string | false,
      boolean,
    ];
    const mineServed = (mine || '0,0').split(',').map(Number);
    return {
      revision: Number(rev),
      full: Boolean(full),
      admit: admit && ADMIT_OUTCOMES.has(admit) ? (admit as AdmitOutcome) : undefined,
      sessions: list<[string, string[]]>(sessions)
        .map(([id, fields]) => this.readSession(id, list<string>(fields)))
        .filter((s): s is SharedSession => s !== undefined)
        .sort((a, b) => a.joinSeq - b.joinSeq),
      gone: list<string>(gone),
      expired: list<string>(expired),
      served: {
        total: { segments: Number(segs), bytes: Number(bytes) },
        mine: { segments: mineServed[0] ?? 0, bytes: mineServed[1] ?? 0 },
      },
      endedAt: ended ? Number(ended) : undefined,
      fresh: Boolean(fresh),
    };
  }

  /** A session hash (HGETALL's field, value list); undefined when it expired meanwhile. */
  private readSession(sessionId: string, flat: readonly string[]): SharedSession | undefined {
    const f = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) f.set(flat[i] as string, flat[i + 1] as string);
    const profile = f.get('p');
    const target = f.get('t');
    const viewerId = f.get('viewer');
    if (!viewerId || !isProfile(profile) || !isProfile(target)) return undefined;
    const buffer = f.get('b');
    return {
      sessionId,
      viewerId,
      joinSeq: Number(f.get('seq') ?? 0),
      joinedAt: Number(f.get('joined') ?? 0),
      anonymous: f.get('anon') === '1',
      origin: f.get('origin') ?? '',
      profile,
      target,
      bufferHealth: buffer === undefined ? undefined : Number(buffer),
      throughputKbps: Number(f.get('tp') ?? 0),
      lastSeenAt: Number(f.get('seen') ?? 0),
      lastSequence: Number(f.get('lseq') ?? -1),
      counts: {
        segments: Number(f.get('seg') ?? 0),
        bytes: Number(f.get('bytes') ?? 0),
        stalls: Number(f.get('st') ?? 0),
        lowBufferEvents: Number(f.get('lb') ?? 0),
      },
      mine: counters(f.get(`o:${this.origin}`)),
    };
  }
}

/** The request as the exchange script reads it (short names; absent fields left out). */
function wireRequest(request: ExchangeRequest): Record<string, unknown> {
  return {
    rid: request.recordingId,
    inc: request.incarnation,
    live: request.live,
    max: request.maxViewers,
    dvr: request.dvrSeconds,
    since: request.since,
    now: request.now,
    idle: request.idleMs,
    updates: request.updates.map((u) => ({
      id: u.sessionId,
      c: u.mine && countersText(u.mine),
      seen: u.lastSeenAt,
      lseq: u.lastSequence,
      p: u.profile,
      t: u.target,
      // Fractions travel as text: the script stores them as they are.
      b: u.bufferHealth === undefined ? undefined : String(u.bufferHealth),
      tp: u.throughputKbps === undefined ? undefined : String(u.throughputKbps),
    })),
    served: request.served && `${request.served.segments},${request.served.bytes}`,
    leaves: request.leaves,
    ended: request.endedAt,
    admit: request.admit && {
      id: request.admit.sessionId,
      viewer: request.admit.viewerId,
      anon: request.admit.anonymous,
      max: request.admit.maxViewers,
      candidates: request.admit.candidates.map((c) => [c.profile, c.cap]),
    },
    readmits: (request.readmits ?? []).map((r) => ({
      id: r.sessionId,
      viewer: r.viewerId,
      anon: r.anonymous,
      joined: r.joinedAt,
      p: r.profile,
      t: r.target,
      b: String(r.bufferHealth),
      tp: String(r.throughputKbps),
      c: [r.counts.segments, r.counts.bytes, r.counts.stalls, r.counts.lowBufferEvents],
      seen: r.lastSeenAt,
      lseq: r.lastSequence,
    })),
  };
}

function countersText(c: SessionCounters): string {
  return `${c.segments},${c.bytes},${c.stalls},${c.lowBufferEvents}`;
}

function counters(text: string | undefined): SessionCounters {
  const [segments = 0, bytes = 0, stalls = 0, lowBufferEvents = 0] = (text ?? '')
    .split(',')
    .filter((part) => part !== '')
    .map(Number);
  return { segments, bytes, stalls, lowBufferEvents };
}

/** Lua's cjson writes an empty list as `{}`. */
function list<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

function isProfile(value: string | undefined): value is ProfileName {
  return value !== undefined && (PROFILE_NAMES as readonly string[]).includes(value);
}

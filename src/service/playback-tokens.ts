import { jwtVerify, SignJWT } from 'jose';
import { DistributionError } from '../core/errors.js';

/** What a playback token grants: one stream, until it expires, optionally to one viewer. */
export interface PlaybackGrant {
  readonly recordingId: string;
  readonly viewerId: string | undefined;
  /** ms since the epoch */
  readonly expiresAt: number;
}

export class PlaybackTokenError extends DistributionError {
  constructor(present: boolean, why = 'the playback token is not valid') {
    super(
      present ? 'PLAYBACK_TOKEN_INVALID' : 'PLAYBACK_TOKEN_REQUIRED',
      present ? why : 'this stream needs a playback token (?token=)',
      'token',
    );
  }
}

export const PLAYBACK_TOKEN_DEFAULTS = {
  ttlSeconds: 6 * 3600,
  /** Verified tokens remembered, so a player's playlist reloads cost a map lookup. */
  cacheSize: 10_000,
} as const;

const ALGORITHM = 'HS256';

/**
 * Signed playback tokens (JWT, HMAC-SHA256, through jose): claims `stream` (the recording id),
 * `exp`, and optionally `viewer`. A learning platform holding the secret can mint them itself;
 * the join API and `vtp-live token` mint them too.
 */
export class PlaybackTokens {
  private readonly key: Uint8Array;
  private readonly verified = new Map<string, PlaybackGrant>();

  constructor(
    secret: string,
    private readonly ttlSeconds: number = PLAYBACK_TOKEN_DEFAULTS.ttlSeconds,
    private readonly clock: () => number = Date.now,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  /** A token for `recordingId` (and `viewerId`, if given) valid for the configured lifetime. */
  async issue(
    recordingId: string,
    viewerId?: string,
    ttlSeconds = this.ttlSeconds,
  ): Promise<string> {
    const now = Math.floor(this.clock() / 1000);
    return new SignJWT({ stream: recordingId, ...(viewerId !== undefined && { viewer: viewerId }) })
      .setProtectedHeader({ alg: ALGORITHM })
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .sign(this.key);
  }

  /** The grant of a token for `recordingId`; throws PlaybackTokenError when absent or not valid. */
  async check(token: string | undefined, recordingId: string): Promise<PlaybackGrant> {
    if (token === undefined || token === '') throw new PlaybackTokenError(false);
    const grant = this.verified.get(token) ?? (await this.verify(token));
    if (grant.expiresAt <= this.clock()) {
      this.verified.delete(token);
      throw new PlaybackTokenError(true, 'the playback token has expired');
    }
    if (grant.recordingId !== recordingId) {
      throw new PlaybackTokenError(true, 'the playback token is for another stream');
    }
    return grant;
  }

  private async verify(token: string): Promise<PlaybackGrant> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        requiredClaims: ['exp', 'stream'],
        currentDate: new Date(this.clock()),
      }));
    } catch {
      // Signature, format and expiry failures alike: say no more than that it is not valid.
      throw new PlaybackTokenError(true);
    }
    const { stream, viewer, exp } = payload;
    if (typeof stream !== 'string' || typeof exp !== 'number') throw new PlaybackTokenError(true);
    const grant: PlaybackGrant = {
      recordingId: stream,
      viewerId: typeof viewer === 'string' ? viewer : undefined,
      expiresAt: exp * 1000,
    };
    if (this.verified.size >= PLAYBACK_TOKEN_DEFAULTS.cacheSize) {
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(token, grant);
    return grant;
  }
}

import { DistributionError } from '../core/errors.js';
import { sameSecret } from '../service/secrets.js';

export class PublishKeyError extends DistributionError {
  constructor(present: boolean) {
    super(
      present ? 'PUBLISH_KEY_INVALID' : 'PUBLISH_KEY_REQUIRED',
      present
        ? 'the publish key does not match this stream'
        : 'this stream needs a publish key (?key= or Authorization: Bearer)',
      'key',
    );
  }
}

/**
 * Who may push to a stream: the stream's own publish key (from POST /streams/start), else the
 * server's, or the token of a built-in encoder job granted that stream.
 */
export class PublishAccess {
  private readonly keys = new Map<string, string>();
  /** Built-in encoder job tokens and the stream each may push to. */
  private readonly jobTokens = new Map<string, string>();

  constructor(private readonly serverKey: string | undefined) {}

  /** Sets the key pushes to this stream must present. */
  setPublishKey(recordingId: string, key: string): void {
    this.keys.set(recordingId, key);
  }

  /** The key pushes to this stream must present, if any. */
  publishKeyFor(recordingId: string): string | undefined {
    return this.keys.get(recordingId) ?? this.serverKey;
  }

  /** Lets a built-in encoder job push to its stream with `token` until revoked. */
  grantJobToken(recordingId: string, token: string): void {
    this.jobTokens.set(token, recordingId);
  }

  /** Takes back a job token (the job stopped, finished or was forgotten). */
  revokeJobToken(token: string): void {
    this.jobTokens.delete(token);
  }

  /**
   * Throws PublishKeyError unless `presented` matches the stream's (or the server's) key, or
   * is the token of an encoder job granted this stream.
   */
  authorize(recordingId: string, presented: string | undefined): void {
    const expected = this.publishKeyFor(recordingId);
    if (expected === undefined) return;
    if (presented === undefined) throw new PublishKeyError(false);
    // Job tokens carry 128 random bits: a map lookup leaks nothing worth timing.
    if (this.jobTokens.get(presented) === recordingId) return;
    if (!sameSecret(presented, expected)) throw new PublishKeyError(true);
  }

  /** Forgets the key of a stream that was removed. */
  forget(recordingId: string): void {
    this.keys.delete(recordingId);
  }
}

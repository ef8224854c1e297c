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
  /**
   * Keys of restored streams known only by a check (a stored hash, slow on purpose): the first
   * push that passes it sets the key, and later pushes compare against it as usual.
   */
  private readonly checks = new Map<string, (presented: string) => Promise<boolean>>();
  /** Checks running now, per stream and presented key: a burst of pushes runs one. */
  private readonly running = new Map<string, Promise<boolean>>();
  private readonly keyListeners: Array<(recordingId: string, key: string) => void> = [];

  constructor(private readonly serverKey: string | undefined) {}

  /** Sets the key pushes to this stream must present. */
  setPublishKey(recordingId: string, key: string): void {
    this.keys.set(recordingId, key);
    this.checks.delete(recordingId);
    for (const listener of this.keyListeners) listener(recordingId, key);
  }

  /** Calls `listener` with every key set by setPublishKey (to store it, hashed). */
  onPublishKeySet(listener: (recordingId: string, key: string) => void): void {
    this.keyListeners.push(listener);
  }

  /**
   * Restart recovery: pushes to this stream must present a key `check` accepts (the stored
   * hash of the key it was started with).
   */
  setPublishKeyCheck(recordingId: string, check: (presented: string) => Promise<boolean>): void {
    this.keys.delete(recordingId);
    this.checks.set(recordingId, check);
  }

  /** True when this stream has a key of its own (set, or restored), not only the server's. */
  hasStreamKey(recordingId: string): boolean {
    return this.keys.has(recordingId) || this.checks.has(recordingId);
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
   * is the token of an encoder job granted this stream. A restored stream's first push is
   * checked against its stored hash: then the result is a promise (await it).
   */
  authorize(recordingId: string, presented: string | undefined): void | Promise<void> {
    const check = this.checks.get(recordingId);
    if (check) return this.authorizeByCheck(recordingId, presented, check);
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
    this.checks.delete(recordingId);
  }

  private async authorizeByCheck(
    recordingId: string,
    presented: string | undefined,
    check: (presented: string) => Promise<boolean>,
  ): Promise<void> {
    if (presented === undefined) throw new PublishKeyError(false);
    if (this.jobTokens.get(presented) === recordingId) return;
    const id = `${recordingId}\n${presented}`;
    let result = this.running.get(id);
    if (!result) {
      result = check(presented)
        .catch(() => false)
        .finally(() => this.running.delete(id));
      this.running.set(id, result);
    }
    if (!(await result)) throw new PublishKeyError(true);
    // Cache the verified key unless the stream got another key (or was forgotten) meanwhile.
    if (this.checks.get(recordingId) === check) {
      this.checks.delete(recordingId);
      this.keys.set(recordingId, presented);
    }
  }
}

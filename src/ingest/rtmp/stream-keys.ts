import { createHash, randomBytes } from 'node:crypto';
import { isStreamKeyFormat } from './stream-key.js';

/**
 * Stream keys for encoders that publish over RTMP or SRT (OBS and the like): a key belongs to
 * one stream and is never its public name. A key is 192 random bits in base64url (32
 * characters of `[A-Za-z0-9_-]`, the set RTMP stream names and SRT passphrases accept). A
 * publish carries a key and no stream id, so keys are looked up by their SHA-256: one hash per
 * attempt rather than a slow key derivation per stream (a random key cannot be guessed, so a
 * fast hash is enough), and the lookup's timing says nothing about the key. The key itself is
 * kept too, for the operator's publish URLs (stored sealed, as encoder sources are).
 */
export class StreamKeys {
  /** SHA-256 (hex) of each key and the stream it belongs to. */
  private readonly streams = new Map<string, string>();
  private readonly keys = new Map<string, { key: string; hash: string }>();

  /** A new key for `recordingId` (replacing its previous one), to hand to the lecturer. */
  issue(recordingId: string): string {
    const key = randomBytes(KEY_BYTES).toString('base64url');
    this.remember(recordingId, key);
    return key;
  }

  /** Sets the stream's key (restart recovery, from the stored sealed key). */
  remember(recordingId: string, key: string): void {
    this.forget(recordingId);
    const hash = hashOf(key);
    this.streams.set(hash, recordingId);
    this.keys.set(recordingId, { key, hash });
  }

  /** The stream `key` belongs to, if any. */
  streamOf(key: string): string | undefined {
    if (!isStreamKeyFormat(key)) return undefined;
    return this.streams.get(hashOf(key));
  }

  /** The stream's key, for its publish URLs. */
  keyFor(recordingId: string): string | undefined {
    return this.keys.get(recordingId)?.key;
  }

  /** Drops the stream's key: publishing with it is refused from now on. */
  forget(recordingId: string): void {
    const known = this.keys.get(recordingId);
    if (known === undefined) return;
    this.keys.delete(recordingId);
    this.streams.delete(known.hash);
  }
}

const KEY_BYTES = 24;

/** The SHA-256 of a key, in hex: what keys are looked up by. */
function hashOf(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

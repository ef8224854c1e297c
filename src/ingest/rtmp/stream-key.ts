/**
 * What a lecturer's stream key may look like: URL- and path-safe, long enough not to be guessed,
 * and short enough to be an SRT passphrase too (libsrt takes at most 80 characters).
 */
export const STREAM_KEY_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

/** True when `key` has the stream-key format (it says nothing of whether the key is known). */
export function isStreamKeyFormat(key: string): boolean {
  return STREAM_KEY_PATTERN.test(key);
}

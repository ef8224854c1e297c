/** What a lecturer's stream key may look like: URL- and path-safe, long enough not to be guessed. */
export const STREAM_KEY_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

/** True when `key` has the stream-key format (it says nothing of whether the key is known). */
export function isStreamKeyFormat(key: string): boolean {
  return STREAM_KEY_PATTERN.test(key);
}

import { hash, randomBytes } from 'node:crypto';

/**
 * A strong entity tag from the bytes themselves (128 bits of SHA-256), computed once when a
 * segment or init section is published: equal tags mean equal bytes, whatever the URL, so a
 * revalidation can never answer 304 for bytes the client does not hold.
 */
export function contentTag(data: Uint8Array): string {
  return `"${hash('sha256', data, 'base64url').slice(0, 22)}"`;
}

/**
 * A new stream incarnation: 48 random bits in hex (12 characters, within the id pattern and
 * without '-', so `{incarnation}-{sequence}` reads back unambiguously). Random rather than a
 * counter, so a restarted server never repeats one it handed out before.
 */
export function newIncarnation(): string {
  return randomBytes(6).toString('hex');
}

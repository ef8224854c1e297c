import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Text kept in the database but not in clear: encoder sources, whose URLs may carry credentials
 * (docs/architecture.md: secrets never reach logs, statuses or argv; nor do they reach a file a
 * backup or a bug report copies). AES-256-GCM with a random 96-bit IV per value; the tag makes a
 * damaged or foreign value fail to open rather than open as garbage.
 *
 * The key is a separate file (`vtp.key`, mode 0600) so the database alone reveals nothing;
 * whoever reads both files can open the values, so the data directory must stay private.
 */

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const PREFIX = 'v1.';

/** Reads the key file, or makes one (random, owner-only) when there is none. */
export function loadOrCreateKey(file: string): Buffer {
  try {
    // 'wx' fails when the file exists, so two starts never overwrite each other's key.
    const key = randomBytes(KEY_BYTES);
    writeFileSync(file, key, { flag: 'wx', mode: 0o600 });
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const key = readFileSync(file);
  if (key.length !== KEY_BYTES) {
    throw new Error(`key file ${file} holds ${key.length} bytes, not ${KEY_BYTES}`);
  }
  return key;
}

export function seal(key: Buffer, text: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

/** The text sealed in `sealed`, or undefined when another key sealed it or it is damaged. */
export function unseal(key: Buffer, sealed: string): string | undefined {
  if (!sealed.startsWith(PREFIX)) return undefined;
  const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
  if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([
      decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    return undefined;
  }
}

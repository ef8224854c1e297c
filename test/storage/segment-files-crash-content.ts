import { PROFILE_NAMES, type ProfileName } from '../../src/core/profiles.js';

/** What the crash child reports once a write resolved. */
export interface CrashReport {
  readonly profile: ProfileName;
  readonly fileName: string;
}

/**
 * The bytes the crash child writes for a file (sequence -1: the init section): 60 KB to 1 MB,
 * named inside and filled with a pattern of its own, so the test can regenerate them and tell a
 * whole file from a partial or mixed one without trusting the store's own hashes.
 */
export function crashContent(incarnation: string, profile: ProfileName, sequence: number): Buffer {
  const p = PROFILE_NAMES.indexOf(profile);
  const size = 60_000 + (((sequence + 2) * 7919 + p * 104_729) % 940_000);
  const data = Buffer.alloc(size, (sequence * 31 + p * 7 + 1) & 0xff);
  data.write(`${incarnation}/${profile}/${sequence}/`, 0, 'latin1');
  data.writeUInt32BE(size, size - 4);
  return data;
}

import { PROFILE_NAMES, type ProfileName } from '../core/profiles.js';

/**
 * Names that become path components under the data directory. The HTTP schemas already hold ids
 * to `[A-Za-z0-9._-]{1,128}`, but this module must never touch a path outside the data
 * directory whatever its caller passes (docs/architecture.md, security rules), so it checks
 * again: no separators, no `.` or `..`, nothing the pattern does not allow.
 */
const ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * A stored file's own name: an id-like name that does not start with '.' (temporary files do,
 * so the two never meet) and ends with a media extension (records end in `.json`, so a media
 * name never names a record).
 */
const MEDIA_FILE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,159}\.(?:ts|m4s|mp4)$/;

/** Thrown before any file system call when a name could leave its directory. */
export class UnsafeStorageNameError extends Error {
  constructor(
    readonly what: string,
    value: string,
  ) {
    super(`refusing ${what} ${JSON.stringify(value.slice(0, 200))}: not a safe file name`);
    this.name = 'UnsafeStorageNameError';
  }
}

/** True when `name` may be a recording id or an incarnation on disk. */
export function isSafeId(name: string): boolean {
  return ID.test(name) && name !== '.' && name !== '..';
}

/** True when `name` may be a stored segment or init section. */
export function isMediaFileName(name: string): boolean {
  return MEDIA_FILE.test(name);
}

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name);
}

/** `name` when it is a safe id, else an UnsafeStorageNameError naming `what`. */
export function checkId(what: string, name: string): string {
  if (typeof name !== 'string' || !isSafeId(name)) throw new UnsafeStorageNameError(what, name);
  return name;
}

export function checkProfile(name: string): ProfileName {
  if (typeof name !== 'string' || !isProfileName(name)) {
    throw new UnsafeStorageNameError('profile', String(name));
  }
  return name;
}

export function checkMediaFileName(name: string): string {
  if (typeof name !== 'string' || !isMediaFileName(name)) {
    throw new UnsafeStorageNameError('file name', String(name));
  }
  return name;
}

/** The record kept beside a stored file. */
export function recordName(fileName: string): string {
  return `${fileName}.json`;
}

/** Temporary files start with '.', which no stored name does, and end with `.tmp`. */
export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}

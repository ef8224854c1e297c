import { mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
import { STORAGE_DEFAULTS } from './store.js';
import { StoreCorruptError } from './store-errors.js';

/** The pino method recovery logs with (a pino logger fits). */
export interface StoreLog {
  error(detail: Record<string, unknown>, message: string): void;
}

/**
 * Opens the state database of a data directory (made if missing, owner-only). A corrupt or
 * truncated database is moved aside as `vtp.db.corrupt-<timestamp>` (with its -wal and -shm
 * files, which must never be replayed into a new database) and an empty one started, so the
 * server comes up with what is intact and the damaged file stays for inspection. A database
 * of a newer build (StoreVersionError) or one held by another server (StoreLockedError) is
 * not damaged: those errors are thrown, and start-up stops with their message.
 */
export function openStoreOrRecover(
  dir: string,
  log: StoreLog,
  options: SqliteStoreOptions = {},
  now: () => Date = () => new Date(),
): SqliteStore {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, STORAGE_DEFAULTS.fileName);
  try {
    return new SqliteStore(file, options);
  } catch (error) {
    if (!(error instanceof StoreCorruptError)) throw error;
    const movedTo = `${file}.corrupt-${now().toISOString().replace(/[:.]/g, '-')}`;
    renameSync(file, movedTo);
    for (const suffix of ['-wal', '-shm']) {
      try {
        renameSync(file + suffix, movedTo + suffix);
      } catch (renameError) {
        if ((renameError as NodeJS.ErrnoException).code !== 'ENOENT') throw renameError;
      }
    }
    log.error(
      { file, movedTo, reason: error.message },
      'state database is corrupt: moved it aside and started an empty one; streams, sessions, counters and encoder jobs it held are not recovered',
    );
    return new SqliteStore(file, options);
  }
}

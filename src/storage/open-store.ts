import { copyFileSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
import { STORAGE_DEFAULTS } from './store.js';
import { StoreCorruptError } from './store-errors.js';
import { checkWriteAheadLog } from './wal-check.js';

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
 * not damaged: those errors are thrown, and start-up stops with their message. A write-ahead
 * log whose damage would make SQLite drop commits silently (wal-check.ts) is named in the log
 * and copied aside as `vtp.db-wal.corrupt-<timestamp>`; SQLite then replays what precedes it.
 */
export function openStoreOrRecover(
  dir: string,
  log: StoreLog,
  options: SqliteStoreOptions = {},
  now: () => Date = () => new Date(),
): SqliteStore {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, STORAGE_DEFAULTS.fileName);
  const aside = (name: string) => `${name}.corrupt-${now().toISOString().replace(/[:.]/g, '-')}`;
  // Before SQLite opens it: its first checkpoint overwrites the log, and the evidence with it.
  const wal = `${file}-wal`;
  const walDamage = checkWriteAheadLog(wal);
  if (walDamage) {
    const { reason, keptCommits, lostCommits } = walDamage;
    const copiedTo = aside(wal);
    copyFileSync(wal, copiedTo);
    const dropped =
      lostCommits === undefined ? 'whatever it held after them' : `the ${lostCommits} after it`;
    log.error(
      { file: wal, copiedTo, reason, keptCommits, lostCommits },
      `state database write-ahead log ${wal} is damaged: ${reason}; SQLite replays the ${keptCommits} commits before it and drops ${dropped}, so the viewer sessions, counters, encoder jobs and stream settings written last before the stop are lost; streams whose segments are on disk are rebuilt from them (a copy of the damaged log is kept as ${copiedTo})`,
    );
  }
  try {
    return new SqliteStore(file, options);
  } catch (error) {
    if (!(error instanceof StoreCorruptError)) throw error;
    const movedTo = aside(file);
    renameSync(file, movedTo);
    const alsoMoved: string[] = [];
    for (const suffix of ['-wal', '-shm']) {
      try {
        renameSync(file + suffix, movedTo + suffix);
        alsoMoved.push(movedTo + suffix);
      } catch (renameError) {
        if ((renameError as NodeJS.ErrnoException).code !== 'ENOENT') throw renameError;
      }
    }
    // One line an operator can act on without the fields: which file, where it went, what is
    // lost, and what is not (segment files have records of their own and become recordings).
    log.error(
      { file, movedTo, ...(alsoMoved.length > 0 && { alsoMoved }), reason: error.message },
      `${error.message}; moved it aside and started an empty one (the damaged file is kept as ${movedTo}): the viewer sessions, counters, encoder jobs, publish keys and stream settings it held are lost; segment files are not, and are listed as recordings, their streams rebuilt from them (a recent one live, an older one ended)`,
    );
    return new SqliteStore(file, options);
  }
}

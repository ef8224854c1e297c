import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * The pieces of an atomic, durable file write (temporary file, fsync, rename, fsync of the
 * directory), written by hand because each step's order is the point: Node has the system calls
 * and no library we use exposes them with the directory fsync shared between concurrent writers.
 */

/** A temporary name in `dir` for `fileName`: starts with '.', ends with `.tmp`, unique. */
export function tempPath(dir: string, fileName: string): string {
  return path.join(dir, `.${fileName}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Writes `data` to a new file `file` (it must not exist) and, when `durable`, fsyncs it before
 * closing, so a later rename can only ever point at complete bytes.
 */
export async function writeNewFile(
  file: string,
  data: Uint8Array | string,
  durable: boolean,
): Promise<void> {
  const handle = await open(file, 'wx');
  try {
    await handle.writeFile(data);
    if (durable) await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Removes `file` if it is there; for cleaning up after a failed write. */
export async function unlinkQuietly(file: string): Promise<void> {
  await unlink(file).catch(() => undefined);
}

/** fsync of a directory: makes the names created, renamed or removed in it survive a power cut. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Directory fsyncs shared between concurrent writers: a caller gets an fsync that started after
 * it asked (so it covers the caller's rename), and callers who ask while one runs share the next
 * one rather than queueing one each.
 */
export class DirectorySyncs {
  private readonly running = new Map<string, Promise<void>>();
  private readonly next = new Map<string, Promise<void>>();
  /** Directories `ensure` made or found, with their names synced. */
  private readonly made = new Set<string>();
  private readonly making = new Map<string, Promise<void>>();

  /**
   * @param confined directories strictly below it must be real directories, not symbolic links
   *   (the data directory itself may be a link to another disk).
   */
  constructor(
    private readonly durable: boolean,
    private readonly confined: string,
  ) {}

  /** Resolves once an fsync of `dir` that began after this call has finished. */
  sync(dir: string): Promise<void> {
    if (!this.durable) return Promise.resolve();
    const queued = this.next.get(dir);
    if (queued) return queued;
    const running = this.running.get(dir);
    if (!running) return this.start(dir);
    const after = running
      .catch(() => undefined)
      .then(() => {
        this.next.delete(dir);
        return this.start(dir);
      });
    this.next.set(dir, after);
    return after;
  }

  /**
   * Creates `dir` and its missing parents and fsyncs the parent of each one it creates, so the
   * new names survive a power cut too. Concurrent calls for one directory share one creation
   * (concurrent recursive mkdirs of one path can fail with ENOTDIR in Node 20).
   */
  ensure(dir: string): Promise<void> {
    if (this.made.has(dir)) return Promise.resolve();
    let making = this.making.get(dir);
    if (!making) {
      making = this.create(dir).finally(() => this.making.delete(dir));
      this.making.set(dir, making);
    }
    return making;
  }

  /** Forgets directories under `prefix` (they were removed). */
  forget(prefix: string): void {
    for (const dir of this.made) {
      if (dir === prefix || dir.startsWith(prefix + path.sep)) this.made.delete(dir);
    }
  }

  private async create(dir: string): Promise<void> {
    try {
      await mkdir(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && path.dirname(dir) !== dir) {
        await this.ensure(path.dirname(dir));
        return this.create(dir);
      }
      if (code !== 'EEXIST') throw error;
      await this.checkReal(dir);
    }
    // Also when it existed: a process that crashed may have made it without this fsync.
    await this.sync(path.dirname(dir));
    this.made.add(dir);
  }

  /**
   * Refuses `dir` when it or a parent below the confined root is not a real directory: a
   * symbolic link planted there would lead writes out of the data directory.
   */
  private async checkReal(dir: string): Promise<void> {
    for (let at = dir; at.startsWith(this.confined + path.sep); at = path.dirname(at)) {
      if (!(await lstat(at)).isDirectory()) {
        throw new Error(`${at} is not a directory; refusing to write through it`);
      }
    }
  }

  private start(dir: string): Promise<void> {
    const run = syncDirectory(dir).finally(() => {
      if (this.running.get(dir) === run) this.running.delete(dir);
    });
    this.running.set(dir, run);
    return run;
  }
}

import { randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { MediaInfo } from '../core/media-info.js';
import type { ProfileName } from '../core/profiles.js';
import { DirectorySyncs, tempPath, unlinkQuietly, writeNewFile } from './atomic-write.js';
import { encodeMediaRecord, isMediaInfo, MEDIA_RECORD_NAME } from './rendition-media-record.js';
import { checkId, checkMediaFileName, checkProfile, recordName } from './segment-file-names.js';
import { decodeRecord, encodeRecord, type StoredMeta, sha256Of } from './segment-file-record.js';
import {
  type ScanResult,
  type ScanVerify,
  type StoredFile,
  scanSegmentFiles,
  sortStoredFiles,
} from './segment-scan.js';

export { UnsafeStorageNameError } from './segment-file-names.js';
export type { InitFileMeta, SegmentFileMeta, StoredMeta } from './segment-file-record.js';
export { initFileMeta, segmentFileMeta } from './segment-file-record.js';
export type {
  ScanProblem,
  ScanResult,
  ScanVerify,
  StoredFile,
  StoredMedia,
} from './segment-scan.js';

export interface SegmentFilesOptions {
  /**
   * fsync each file and its directory before a write resolves (the default): a resolved write
   * then survives a power cut, not only a crash of the process. False only for measuring.
   */
  readonly durable?: boolean;
}

/** Bytes and files one recording holds on disk, for retention. */
export interface RecordingUsage {
  readonly recordingId: string;
  readonly bytes: number;
  readonly files: number;
  /** Oldest and newest `createdAt` of its files (ms since the epoch). */
  readonly firstCreatedAt: number;
  readonly lastCreatedAt: number;
}

/** Thrown when a name already holds other bytes: a stored name never changes its bytes. */
export class StoredFileExistsError extends Error {
  constructor(file: string) {
    super(`${file} is already stored with other bytes`);
    this.name = 'StoredFileExistsError';
  }
}

interface RecordingFiles {
  bytes: number;
  readonly files: Map<string, StoredFile>;
  /** Media descriptions by `{incarnation}/{profile}` (rendition-media-record.ts). */
  readonly media: Map<string, MediaInfo>;
}

/**
 * Segments and init sections on disk, under
 * `{dataDir}/segments/{recording_id}/{incarnation}/{profile}/{file}` with a record beside each
 * (`{file}.json`: size, SHA-256 and what playlists need) and, per rendition, what its media is
 * (`media.json`: codecs, resolution). A write is atomic (temporary file,
 * fsync, rename, fsync of the directory), so a crash leaves either the whole file or none that
 * start-up accepts; `scan` verifies what is there at start-up. The index in memory is what
 * `write` and `scan` have seen; reads and totals answer from it (README, "Segments on disk").
 */
export class SegmentFiles {
  readonly dataDir: string;
  readonly segmentsDir: string;
  /** Committed files that failed verification at start-up, kept for the operator. */
  readonly quarantineDir: string;
  /** Recordings being removed: renamed here first, so a removal is all or nothing. */
  readonly trashDir: string;
  private readonly durable: boolean;
  private readonly dirs: DirectorySyncs;
  private readonly index = new Map<string, RecordingFiles>();
  /** Writes in flight per recording, which a removal or a scan waits for. */
  private readonly pending = new Map<string, Set<Promise<unknown>>>();
  /** Files being written, so a second write of one name waits for the first. */
  private readonly writing = new Map<string, Promise<unknown>>();
  /** Removals and scans per recording (the key '' is a scan of all), which writes wait for. */
  private readonly exclusive = new Map<string, Promise<unknown>>();

  constructor(dataDir: string, options: SegmentFilesOptions = {}) {
    this.dataDir = path.resolve(dataDir);
    this.segmentsDir = path.join(this.dataDir, 'segments');
    this.quarantineDir = path.join(this.dataDir, 'quarantine');
    this.trashDir = path.join(this.dataDir, 'trash');
    this.durable = options.durable ?? true;
    this.dirs = new DirectorySyncs(this.durable, this.segmentsDir);
  }

  /**
   * Stores `bytes` as `fileName` of a rendition, atomically; resolves once the file and its
   * record are complete on disk (fsynced, with their directory, when durable). Writing a name
   * again with the same bytes is a no-op; with other bytes, a StoredFileExistsError.
   */
  async write(
    recordingId: string,
    incarnation: string,
    profile: ProfileName,
    fileName: string,
    bytes: Uint8Array,
    meta: StoredMeta,
  ): Promise<StoredFile> {
    const file = this.file(recordingId, incarnation, profile, fileName);
    return this.writeInTurn(recordingId, file, async () => {
      const where = { recordingId, incarnation, profile, fileName };
      const stored = await this.writeNow(file, where, bytes, meta);
      this.remember(stored, `${incarnation}/${profile}/${fileName}`);
      return stored;
    });
  }

  /**
   * Lists what is on disk (one recording, or all) and verifies each file against its record;
   * rebuilds the index from it. Damaged or incomplete files are reported and skipped: see
   * ScanProblem for what becomes of each. Writes to what is being scanned wait for it.
   */
  async scan(recordingId?: string, options: { verify?: ScanVerify } = {}): Promise<ScanResult> {
    if (recordingId !== undefined) checkId('recording id', recordingId);
    const layout = {
      dataDir: this.dataDir,
      segmentsDir: this.segmentsDir,
      quarantineDir: this.quarantineDir,
      trashDir: this.trashDir,
    };
    return this.alone(recordingId ?? '', async () => {
      const result = await scanSegmentFiles(layout, recordingId, options.verify ?? 'sha256');
      if (recordingId === undefined) this.index.clear();
      else this.index.delete(recordingId);
      for (const stored of result.files) {
        this.remember(stored, `${stored.incarnation}/${stored.profile}/${stored.fileName}`);
      }
      for (const { recordingId: id, incarnation, profile, media } of result.media) {
        this.index.get(id)?.media.set(`${incarnation}/${profile}`, media);
      }
      return result;
    });
  }

  /** A stored file's record, if the index holds it. */
  get(
    recordingId: string,
    incarnation: string,
    profile: ProfileName,
    fileName: string,
  ): StoredFile | undefined {
    this.file(recordingId, incarnation, profile, fileName);
    return this.index.get(recordingId)?.files.get(`${incarnation}/${profile}/${fileName}`);
  }

  /**
   * Stores what a rendition's media is (ingest's probe), replacing what was stored, atomically
   * as a segment is written. Only beside files the index holds: a rendition without a stored
   * file (not yet written, or removed) gets none, and resolves false, so a removed recording
   * never gets a directory back.
   */
  async writeMedia(
    recordingId: string,
    incarnation: string,
    profile: ProfileName,
    media: MediaInfo,
  ): Promise<boolean> {
    const file = path.join(this.profileDir(recordingId, incarnation, profile), MEDIA_RECORD_NAME);
    // What is written must scan back (and go into a playlist): refuse anything else first.
    if (!isMediaInfo(media))
      throw new TypeError(`refusing to store ${file}: not a media description`);
    const text = encodeMediaRecord(media);
    return this.writeInTurn(recordingId, file, async () => {
      const recording = this.index.get(recordingId);
      const held = [...(recording?.files.values() ?? [])].some(
        (f) => f.incarnation === incarnation && f.profile === profile,
      );
      if (!recording || !held) return false;
      await this.replaceFile(file, text);
      recording.media.set(`${incarnation}/${profile}`, media);
      return true;
    });
  }

  /**
   * Resolves once a recording has no write in flight: those running now, and any they lead to
   * (a segment written once its init section is). Writes that keep arriving keep it waiting, so
   * it is for a recording whose stream ended.
   */
  async settled(recordingId: string): Promise<void> {
    for (;;) {
      const writes = [...(this.pending.get(recordingId) ?? [])];
      if (writes.length === 0) return;
      await Promise.allSettled(writes);
      // After the callbacks of what just finished: a segment waiting for its init section has
      // started its own write by then.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** What a rendition's media is, if it was stored (writeMedia) or found (scan). */
  media(recordingId: string, incarnation: string, profile: ProfileName): MediaInfo | undefined {
    return this.index.get(recordingId)?.media.get(`${incarnation}/${profile}`);
  }

  /** Every stored file of a recording, in the order `scan` returns them. */
  list(recordingId: string): StoredFile[] {
    checkId('recording id', recordingId);
    return sortStoredFiles([...(this.index.get(recordingId)?.files.values() ?? [])]);
  }

  /**
   * A stored file's bytes, or undefined when the index does not hold it. Throws when the file
   * on disk is no longer the size its record says (it changed after the scan).
   */
  async read(
    recordingId: string,
    incarnation: string,
    profile: ProfileName,
    fileName: string,
  ): Promise<Buffer | undefined> {
    const stored = this.get(recordingId, incarnation, profile, fileName);
    if (!stored) return undefined;
    const data = await readFile(this.file(recordingId, incarnation, profile, fileName));
    if (data.length !== stored.size) {
      throw new Error(
        `${recordingId}/${incarnation}/${profile}/${fileName} is ${data.length} bytes on disk, ${stored.size} in its record`,
      );
    }
    return data;
  }

  /**
   * A stream of a stored file's bytes (`start`/`end` inclusive, as byte ranges count), for a
   * recording larger than memory; undefined when the index does not hold the file.
   */
  createReadStream(
    recordingId: string,
    incarnation: string,
    profile: ProfileName,
    fileName: string,
    range: { start?: number; end?: number } = {},
  ): ReadStream | undefined {
    if (!this.get(recordingId, incarnation, profile, fileName)) return undefined;
    return createReadStream(this.file(recordingId, incarnation, profile, fileName), range);
  }

  /** Removes a recording's files (after its writes in flight); resolves to the bytes freed. */
  async removeStream(recordingId: string): Promise<number> {
    checkId('recording id', recordingId);
    return this.alone(recordingId, async () => {
      const freed = this.index.get(recordingId)?.bytes ?? 0;
      await this.discard(path.join(this.segmentsDir, recordingId));
      this.index.delete(recordingId);
      return freed;
    });
  }

  /** Removes one incarnation of a recording; resolves to the bytes freed. */
  async removeIncarnation(recordingId: string, incarnation: string): Promise<number> {
    checkId('recording id', recordingId);
    checkId('incarnation', incarnation);
    return this.alone(recordingId, async () => {
      await this.discard(path.join(this.segmentsDir, recordingId, incarnation));
      const recording = this.index.get(recordingId);
      if (!recording) return 0;
      let freed = 0;
      for (const [key, stored] of recording.files) {
        if (stored.incarnation !== incarnation) continue;
        recording.files.delete(key);
        freed += stored.size;
      }
      for (const key of recording.media.keys()) {
        if (key.startsWith(`${incarnation}/`)) recording.media.delete(key);
      }
      recording.bytes -= freed;
      if (recording.files.size === 0) this.index.delete(recordingId);
      return freed;
    });
  }

  /** Media bytes a recording holds on disk (records not counted). */
  bytes(recordingId: string): number {
    return this.index.get(recordingId)?.bytes ?? 0;
  }

  totalBytes(): number {
    let total = 0;
    for (const recording of this.index.values()) total += recording.bytes;
    return total;
  }

  /** Every recording with files, with its size and age, for retention. */
  recordings(): RecordingUsage[] {
    return [...this.index].map(([recordingId, recording]) => {
      let first = Infinity;
      let last = -Infinity;
      for (const stored of recording.files.values()) {
        first = Math.min(first, stored.meta.createdAt);
        last = Math.max(last, stored.meta.createdAt);
      }
      return {
        recordingId,
        bytes: recording.bytes,
        files: recording.files.size,
        firstCreatedAt: first,
        lastCreatedAt: last,
      };
    });
  }

  /** Writes the bytes and the record to temporary files, fsyncs, renames, fsyncs the dir. */
  private async writeNow(
    file: string,
    where: Pick<StoredFile, 'recordingId' | 'incarnation' | 'profile' | 'fileName'>,
    bytes: Uint8Array,
    meta: StoredMeta,
  ): Promise<StoredFile> {
    const sha256 = sha256Of(bytes);
    const existing = this.index
      .get(where.recordingId)
      ?.files.get(`${where.incarnation}/${where.profile}/${where.fileName}`);
    if (existing) {
      if (existing.sha256 === sha256 && existing.size === bytes.length) return existing;
      throw new StoredFileExistsError(path.relative(this.dataDir, file));
    }
    const text = encodeRecord({ v: 1, file: where.fileName, size: bytes.length, sha256, meta });
    // What is written must scan back: refuse a record that would not (NaN, say) before writing.
    const decoded = decodeRecord(text);
    if (typeof decoded === 'string') {
      throw new TypeError(`refusing to store ${where.fileName}: ${decoded}`);
    }
    const dir = path.dirname(file);
    await this.dirs.ensure(dir);
    const bytesTemp = tempPath(dir, where.fileName);
    const recordTemp = tempPath(dir, recordName(where.fileName));
    try {
      await Promise.all([
        writeNewFile(bytesTemp, bytes, this.durable),
        writeNewFile(recordTemp, text, this.durable),
      ]);
      // Bytes first: a record on disk then always has its whole file beside it; bytes without
      // a record are a write that did not finish, which start-up deletes.
      await rename(bytesTemp, file);
      await rename(recordTemp, path.join(dir, recordName(where.fileName)));
    } catch (error) {
      await Promise.all([unlinkQuietly(bytesTemp), unlinkQuietly(recordTemp)]);
      throw error;
    }
    await this.dirs.sync(dir);
    return { ...where, size: bytes.length, sha256, meta: decoded.meta };
  }

  /** Writes `text` over `file` (temporary file, fsync, rename, fsync of the directory). */
  private async replaceFile(file: string, text: string): Promise<void> {
    const dir = path.dirname(file);
    await this.dirs.ensure(dir);
    const temp = tempPath(dir, path.basename(file));
    try {
      await writeNewFile(temp, text, this.durable);
      await rename(temp, file);
    } catch (error) {
      await unlinkQuietly(temp);
      throw error;
    }
    await this.dirs.sync(dir);
  }

  /** Renames `dir` into the trash (durably), then deletes it; a crash leaves it whole or gone. */
  private async discard(dir: string): Promise<void> {
    await this.dirs.ensure(this.trashDir);
    const trashed = path.join(this.trashDir, randomBytes(8).toString('hex'));
    this.dirs.forget(dir);
    try {
      await rename(dir, trashed);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    await this.dirs.sync(path.dirname(dir));
    await rm(trashed, { recursive: true, force: true });
  }

  private remember(stored: StoredFile, key: string): void {
    let recording = this.index.get(stored.recordingId);
    if (!recording) {
      recording = { bytes: 0, files: new Map(), media: new Map() };
      this.index.set(stored.recordingId, recording);
    }
    const before = recording.files.get(key);
    recording.bytes += stored.size - (before?.size ?? 0);
    recording.files.set(key, stored);
  }

  /** The absolute path of a stored file, after checking every name (never outside the root). */
  private file(
    recordingId: string,
    incarnation: string,
    profile: ProfileName,
    fileName: string,
  ): string {
    return path.join(
      this.profileDir(recordingId, incarnation, profile),
      checkMediaFileName(fileName),
    );
  }

  /** The directory of a rendition's files, after checking every name. */
  private profileDir(recordingId: string, incarnation: string, profile: ProfileName): string {
    const dir = path.join(
      this.segmentsDir,
      checkId('recording id', recordingId),
      checkId('incarnation', incarnation),
      checkProfile(profile),
    );
    // The checks above make this impossible; kept so a future change to them cannot escape.
    if (!dir.startsWith(this.segmentsDir + path.sep)) throw new Error(`${dir} escapes the store`);
    return dir;
  }

  /**
   * Runs `write`, a write of `file` in `recordingId`, in its turn: after a removal or scan of the
   * recording running now, and after an earlier write of the same file. Meanwhile it is pending,
   * so a removal or scan that starts later, and `settled`, wait for it.
   */
  private async writeInTurn<T>(
    recordingId: string,
    file: string,
    write: () => Promise<T>,
  ): Promise<T> {
    // No await between the last look at `exclusive` and joining `pending`: a removal or scan
    // that starts later then waits for this write, one running now is waited for.
    for (;;) {
      const blocking = this.exclusive.get(recordingId) ?? this.exclusive.get('');
      if (!blocking) break;
      await blocking.catch(() => undefined);
    }
    let pending = this.pending.get(recordingId);
    if (!pending) {
      pending = new Set();
      this.pending.set(recordingId, pending);
    }
    const job = (async () => {
      while (this.writing.has(file)) await this.writing.get(file)?.catch(() => undefined);
      const run = write();
      this.writing.set(file, run);
      try {
        return await run;
      } finally {
        this.writing.delete(file);
      }
    })();
    pending.add(job);
    try {
      return await job;
    } finally {
      pending.delete(job);
      if (pending.size === 0) this.pending.delete(recordingId);
    }
  }

  /**
   * Runs `task` with no write to `recordingId` (every recording for '') in flight: waits for
   * other exclusive tasks and for pending writes; writes that arrive meanwhile wait for it.
   */
  private async alone<T>(recordingId: string, task: () => Promise<T>): Promise<T> {
    for (;;) {
      const others =
        recordingId === ''
          ? [...this.exclusive.values()]
          : [this.exclusive.get(recordingId), this.exclusive.get('')].filter(
              (p) => p !== undefined,
            );
      if (others.length === 0) break;
      await Promise.allSettled(others);
    }
    const run = (async () => {
      const writes =
        recordingId === ''
          ? [...this.pending.values()].flatMap((set) => [...set])
          : [...(this.pending.get(recordingId) ?? [])];
      await Promise.allSettled(writes);
      return task();
    })();
    this.exclusive.set(recordingId, run);
    try {
      return await run;
    } finally {
      this.exclusive.delete(recordingId);
    }
  }
}

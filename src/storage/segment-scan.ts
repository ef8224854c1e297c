import type { Dirent } from 'node:fs';
import {
  access,
  lstat,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
} from 'node:fs/promises';
import path from 'node:path';
import PQueue from 'p-queue';
import type { MediaInfo } from '../core/media-info.js';
import { PROFILE_NAMES, type ProfileName } from '../core/profiles.js';
import { decodeMediaRecord, MEDIA_RECORD_NAME } from './rendition-media-record.js';
import {
  isMediaFileName,
  isProfileName,
  isSafeId,
  isTempName,
  recordName,
} from './segment-file-names.js';
import { decodeRecord, type FileRecord, type StoredMeta, sha256Of } from './segment-file-record.js';

/** A stored segment or init section that start-up found intact. */
export interface StoredFile {
  readonly recordingId: string;
  readonly incarnation: string;
  readonly profile: ProfileName;
  readonly fileName: string;
  /** Bytes of the media file (its record beside it is not counted). */
  readonly size: number;
  /** SHA-256 of the bytes, base64url; its first 22 characters are the content ETag's. */
  readonly sha256: string;
  readonly meta: StoredMeta;
}

/** A rendition's media description (its `media.json`), found intact beside intact segments. */
export interface StoredMedia {
  readonly recordingId: string;
  readonly incarnation: string;
  readonly profile: ProfileName;
  readonly media: MediaInfo;
}

/** Something start-up found wrong, and what it did about it. */
export interface ScanProblem {
  /** The file or directory, relative to the data directory. */
  readonly path: string;
  readonly reason: string;
  /**
   * `deleted`: never committed (a write that did not finish), so nothing is lost; `quarantined`:
   * committed but damaged or incomplete, moved under `quarantine/` for the operator; `left`: not
   * ours (an unexpected name or kind), left where it is and not served.
   */
  readonly action: 'deleted' | 'quarantined' | 'left';
  /** One line for the log, naming the file, the reason and the action. */
  readonly message: string;
}

export interface ScanResult {
  /** Intact files: by recording, incarnation (oldest first), profile, inits, then sequence. */
  readonly files: StoredFile[];
  /** Media descriptions of renditions that kept at least one intact file. */
  readonly media: StoredMedia[];
  readonly problems: ScanProblem[];
}

/**
 * `sha256` reads and hashes every file (about 1.4 GB/s of hashing here); `size` checks only
 * sizes, which catches a truncated file but not flipped bytes.
 */
export type ScanVerify = 'sha256' | 'size';

/** Files checked at once in a directory: enough to keep reads and hashing both busy. */
const SCAN_CONCURRENCY = 4;

export interface ScanLayout {
  readonly dataDir: string;
  readonly segmentsDir: string;
  readonly quarantineDir: string;
  readonly trashDir: string;
}

/** Scans one recording, or all of them (then also finishes removals a crash interrupted). */
export async function scanSegmentFiles(
  layout: ScanLayout,
  recordingId: string | undefined,
  verify: ScanVerify,
): Promise<ScanResult> {
  const scan = new Scan(layout, verify);
  if (recordingId === undefined) {
    await rm(layout.trashDir, { recursive: true, force: true });
    for (const entry of await entries(layout.segmentsDir)) {
      if (!entry.isDirectory() || !isSafeId(entry.name)) {
        scan.leave(path.join(layout.segmentsDir, entry.name), 'not a recording directory');
        continue;
      }
      await scan.recording(entry.name);
    }
  } else {
    const dir = path.join(layout.segmentsDir, recordingId);
    const kind = await lstat(dir).catch(() => undefined);
    if (kind?.isDirectory()) await scan.recording(recordingId);
    else if (kind) scan.leave(dir, 'not a recording directory');
  }
  return { files: scan.sorted(), media: scan.media, problems: scan.problems };
}

class Scan {
  readonly problems: ScanProblem[] = [];
  readonly media: StoredMedia[] = [];
  private readonly files: StoredFile[] = [];

  constructor(
    private readonly layout: ScanLayout,
    private readonly verify: ScanVerify,
  ) {}

  async recording(recordingId: string): Promise<void> {
    const dir = path.join(this.layout.segmentsDir, recordingId);
    for (const entry of await entries(dir)) {
      if (!entry.isDirectory() || !isSafeId(entry.name)) {
        this.leave(path.join(dir, entry.name), 'not an incarnation directory');
        continue;
      }
      const incarnationDir = path.join(dir, entry.name);
      for (const profile of await entries(incarnationDir)) {
        if (!profile.isDirectory() || !isProfileName(profile.name)) {
          this.leave(path.join(incarnationDir, profile.name), 'not a profile directory');
          continue;
        }
        await this.profile(recordingId, entry.name, profile.name);
      }
    }
  }

  sorted(): StoredFile[] {
    return sortStoredFiles(this.files);
  }

  leave(file: string, reason: string): void {
    this.report(file, reason, 'left', 'left in place, not served');
  }

  /** One profile directory: pairs each media file with its record and checks the pair. */
  private async profile(recordingId: string, incarnation: string, profile: ProfileName) {
    const dir = path.join(this.layout.segmentsDir, recordingId, incarnation, profile);
    const media = new Set<string>();
    const records = new Set<string>();
    let described = false;
    for (const entry of await entries(dir)) {
      const file = path.join(dir, entry.name);
      if (entry.name === MEDIA_RECORD_NAME && entry.isFile()) {
        described = true;
      } else if (isTempName(entry.name)) {
        await unlink(file).catch(() => undefined);
        this.report(file, 'temporary file of a write that did not finish', 'deleted', 'deleted');
      } else if (!entry.isFile()) {
        this.leave(file, 'not a regular file');
      } else if (entry.name.endsWith('.json') && isMediaFileName(entry.name.slice(0, -5))) {
        records.add(entry.name.slice(0, -5));
      } else if (isMediaFileName(entry.name)) {
        media.add(entry.name);
      } else {
        this.leave(file, 'unexpected file name');
      }
    }
    for (const name of media) {
      if (records.has(name)) continue;
      const file = path.join(dir, name);
      await unlink(file).catch(() => undefined);
      this.report(
        file,
        'bytes without a record: a write that did not finish',
        'deleted',
        'deleted',
      );
    }
    // A few files at once, so reading one overlaps hashing another (README, "Segments on disk").
    const queue = new PQueue({ concurrency: SCAN_CONCURRENCY });
    const names = [...records];
    const checked = await queue.addAll(
      names.map((name) => () => this.check(dir, name, media.has(name))),
    );
    const intact: StoredFile[] = [];
    for (const [k, record] of checked.entries()) {
      // One at a time: moves into one quarantine directory must not race to create it.
      if (typeof record === 'string') {
        await this.quarantine(dir, names[k] as string, record);
        continue;
      }
      const { file: fileName, size, sha256, meta } = record;
      intact.push({ recordingId, incarnation, profile, fileName, size, sha256, meta });
    }
    // A segment whose init section did not survive cannot be played: keep neither half-served.
    const inits = new Set(intact.filter((f) => f.meta.kind === 'init').map((f) => f.fileName));
    let kept = 0;
    for (const file of intact) {
      const initId = file.meta.kind === 'segment' ? file.meta.initId : undefined;
      if (initId !== undefined && !inits.has(initId)) {
        await this.quarantine(dir, file.fileName, `needs init section ${initId}, not intact`);
      } else {
        this.files.push(file);
        kept++;
      }
    }
    if (described && kept > 0) await this.describe(dir, recordingId, incarnation, profile);
  }

  /**
   * Reads a rendition's media description. A damaged one is quarantined: its recording plays
   * on, its multivariant playlist without CODECS and RESOLUTION.
   */
  private async describe(
    dir: string,
    recordingId: string,
    incarnation: string,
    profile: ProfileName,
  ): Promise<void> {
    const media = decodeMediaRecord(await readFile(path.join(dir, MEDIA_RECORD_NAME), 'utf8'));
    if (typeof media === 'string') await this.quarantine(dir, MEDIA_RECORD_NAME, media);
    else this.media.push({ recordingId, incarnation, profile, media });
  }

  /** The record of `name` when the pair is intact, else why it is not. */
  private async check(dir: string, name: string, hasMedia: boolean): Promise<FileRecord | string> {
    if (!hasMedia) return 'record of a file that is missing';
    const record = decodeRecord(await readFile(path.join(dir, recordName(name)), 'utf8'));
    if (typeof record === 'string') return record;
    return (await this.mismatch(dir, name, record)) ?? record;
  }

  /** Why the media file `name` does not match its record, if it does not. */
  private async mismatch(
    dir: string,
    name: string,
    record: FileRecord,
  ): Promise<string | undefined> {
    if (record.file !== name) return `record names another file, ${record.file}`;
    const file = path.join(dir, name);
    const size = (await stat(file)).size;
    if (size < record.size) return `truncated: ${size} of ${record.size} bytes`;
    if (size > record.size) return `${size} bytes where its record says ${record.size}`;
    if (this.verify === 'sha256' && sha256Of(await readFile(file)) !== record.sha256) {
      return 'bytes do not match their SHA-256: damaged';
    }
    return undefined;
  }

  /** Moves a file and its record under `quarantine/`, keeping their path below `segments/`. */
  private async quarantine(dir: string, name: string, reason: string): Promise<void> {
    const target = path.join(
      this.layout.quarantineDir,
      path.relative(this.layout.segmentsDir, dir),
    );
    await mkdir(target, { recursive: true });
    // A name quarantined before (say, the same damage found twice) is kept, not overwritten.
    const suffix = (await exists(path.join(target, recordName(name)))) ? `.${Date.now()}` : '';
    for (const file of [name, recordName(name)]) {
      await rename(path.join(dir, file), path.join(target, file + suffix)).catch(
        (error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
        },
      );
    }
    const moved = this.relative(path.join(target, name + suffix));
    this.report(path.join(dir, name), reason, 'quarantined', `moved to ${moved}`);
  }

  private report(file: string, reason: string, action: ScanProblem['action'], did: string): void {
    const relative = this.relative(file);
    this.problems.push({
      path: relative,
      reason,
      action,
      message: `segment store: ${relative}: ${reason}; ${did}`,
    });
  }

  private relative(file: string): string {
    return path.relative(this.layout.dataDir, file);
  }
}

/** A directory's entries sorted by name; none when it does not exist. */
async function entries(dir: string): Promise<Dirent[]> {
  try {
    const list = await readdir(dir, { withFileTypes: true });
    return list.sort((a, b) => compare(a.name, b.name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/**
 * Sorts by recording, incarnation (oldest first), profile (ladder order), inits, then segments
 * by sequence: the order playlists list them in.
 */
export function sortStoredFiles(files: StoredFile[]): StoredFile[] {
  const firstCreated = new Map<string, number>();
  const key = (file: StoredFile) => `${file.recordingId}/${file.incarnation}`;
  for (const file of files) {
    firstCreated.set(
      key(file),
      Math.min(firstCreated.get(key(file)) ?? Infinity, file.meta.createdAt),
    );
  }
  return files.sort(
    (a, b) =>
      compare(a.recordingId, b.recordingId) ||
      (firstCreated.get(key(a)) ?? 0) - (firstCreated.get(key(b)) ?? 0) ||
      compare(a.incarnation, b.incarnation) ||
      PROFILE_NAMES.indexOf(a.profile) - PROFILE_NAMES.indexOf(b.profile) ||
      order(a) - order(b) ||
      compare(a.fileName, b.fileName),
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Inits before segments, segments by sequence. */
function order(file: StoredFile): number {
  return file.meta.kind === 'init' ? -1 : file.meta.sequence;
}

/** LiveSink into a directory served by nginx: segment files, atomically replaced playlists. */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LADDER, type ProfileName } from './profiles.js';
import type { LiveSink } from './replayer.js';

/** Writes `data` to `path` via a temp file and rename, so readers see old or new, never half. */
async function writeAtomically(path: string, data: string | Buffer): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, data, { mode: 0o644 });
  await rename(tmp, path);
}

export class DirSink implements LiveSink {
  private constructor(private readonly root: string) {}

  /** Creates the rendition directories and the static master playlist under `root`. */
  static async create(root: string, masterPlaylist: string): Promise<DirSink> {
    for (const { name } of LADDER) await mkdir(join(root, name), { recursive: true, mode: 0o755 });
    await writeAtomically(join(root, 'master.m3u8'), masterPlaylist);
    return new DirSink(root);
  }

  putSegment(profile: ProfileName, fileName: string, bytes: Buffer): Promise<void> {
    return writeAtomically(join(this.root, profile, fileName), bytes);
  }

  putPlaylist(profile: ProfileName, text: string): Promise<void> {
    return writeAtomically(join(this.root, profile, 'index.m3u8'), text);
  }

  dropSegment(profile: ProfileName, fileName: string): Promise<void> {
    return rm(join(this.root, profile, fileName), { force: true });
  }
}

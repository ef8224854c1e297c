import { DistributionError } from '../core/errors.js';
import type { ProfileName } from '../core/profiles.js';
import type { InitSection, Segment } from '../core/segment.js';
import {
  initFileMeta,
  type SegmentFiles,
  type StoredFile,
  segmentFileMeta,
} from '../storage/segment-files.js';

/**
 * A pushed file ingest published but could not store on disk (disk full, an I/O error): the
 * push is answered 507 STORAGE_FAILED, so the encoder and the operator learn that the recording
 * has a hole although viewers got the segment from memory (README, "Segments on disk").
 */
export class StorageFailedError extends DistributionError {
  constructor(file: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    super(
      'STORAGE_FAILED',
      `'${file}' was published but could not be stored on disk${code ? ` (${code})` : ''}`,
      'file',
    );
  }
}

/** The init section a rendition's segments name now, and its write (started once per id). */
export interface StoredInit {
  readonly id: string;
  readonly write: Promise<void>;
  /** Set when the write failed, so the next segment naming the init writes it again. */
  failed: boolean;
}

/**
 * Starts storing `init` unless `current` already stores that id; returns what the rendition
 * keeps as its current init. A failed write is tried again by the next segment naming it.
 */
export function storeInit(
  files: SegmentFiles,
  recordingId: string,
  incarnation: string,
  profile: ProfileName,
  init: InitSection,
  createdAt: number,
  current: StoredInit | undefined,
): StoredInit {
  if (current?.id === init.id && !current.failed) return current;
  const write = files
    .write(recordingId, incarnation, profile, init.id, init.data, initFileMeta(init, createdAt))
    .then(() => undefined);
  const stored: StoredInit = { id: init.id, write, failed: false };
  write.catch(() => {
    stored.failed = true;
  });
  return stored;
}

/**
 * Stores a published segment once the init section it names is stored (a record on disk never
 * names an init section that is not there); rejects with StorageFailedError.
 */
export async function storeSegment(
  files: SegmentFiles,
  recordingId: string,
  incarnation: string,
  segment: Segment,
  init: StoredInit | undefined,
): Promise<StoredFile> {
  try {
    if (init) await init.write;
    return await files.write(
      recordingId,
      incarnation,
      segment.profile,
      segment.id,
      segment.data,
      segmentFileMeta(segment),
    );
  } catch (error) {
    throw new StorageFailedError(segment.id, error);
  }
}

import type { TestContext } from 'node:test';
import {
  type SegmentFileMeta,
  SegmentFiles,
  type SegmentFilesOptions,
} from '../../src/storage/segment-files.js';
import { tempDir } from '../storage/store-fixtures.js';

/** SegmentFiles over a fresh data directory, removed when the test ends. */
export async function tempSegmentFiles(
  t: TestContext,
  options?: SegmentFilesOptions,
): Promise<SegmentFiles> {
  return new SegmentFiles(await tempDir(t, 'vtp-segment-files-'), options);
}

/** The record of a 2 s MPEG-TS segment, the `sequence`th of its rendition, written as it ended. */
export function segmentMeta(
  sequence: number,
  overrides: Partial<SegmentFileMeta> = {},
): SegmentFileMeta {
  const programDateTime = 1_700_000_000_000 + sequence * 2000;
  return {
    kind: 'segment',
    sequence,
    durationSec: 2,
    discontinuity: false,
    discontinuitySequence: 0,
    programDateTime,
    contentType: 'video/mp2t',
    createdAt: programDateTime + 2000,
    ...overrides,
  };
}

import type { ScanResult, SegmentFiles } from './segment-files.js';

/** What start-up logs to (a pino logger fits). */
export interface StartLog {
  warn(detail: object, message: string): void;
  info(detail: object, message: string): void;
}

/**
 * Scans the data directory once at start-up, before the server listens, and logs every problem
 * (README, "Segments on disk"). Sizes only: hashing every file of a long recording takes longer
 * than a restart may (about 15 s for a 2 h lecture); what a restart serves again from disk is
 * hashed when it is loaded.
 */
export async function scanSegmentFilesAtStart(
  files: SegmentFiles,
  log: StartLog | undefined,
): Promise<ScanResult> {
  const started = performance.now();
  const result = await files.scan(undefined, { verify: 'size' });
  for (const problem of result.problems) {
    log?.warn(
      { path: problem.path, reason: problem.reason, action: problem.action },
      problem.message,
    );
  }
  log?.info(
    {
      files: result.files.length,
      bytes: files.totalBytes(),
      problems: result.problems.length,
      ms: Math.round(performance.now() - started),
    },
    'segment files scanned',
  );
  return result;
}

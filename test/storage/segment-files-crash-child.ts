/**
 * Child process of segment-files-crash.test.ts: writes a ladder's segments through SegmentFiles
 * as fast as it can, four renditions at once, and reports each write after its promise resolved
 * (over IPC), until its parent kills it with SIGKILL. Not a test itself.
 */
import { PROFILE_NAMES } from '../../src/core/profiles.js';
import { SegmentFiles } from '../../src/storage/segment-files.js';
import { type CrashReport, crashContent } from './segment-files-crash-content.js';

const [dataDir, incarnation] = process.argv.slice(2);
if (!dataDir || !incarnation)
  throw new Error('usage: segment-files-crash-child DATA_DIR INCARNATION');
const files = new SegmentFiles(dataDir);
const send = (report: CrashReport) => process.send?.(report);

const init = `init-${incarnation}-0.mp4`;
await files.write('crash', incarnation, 'High', init, crashContent(incarnation, 'High', -1), {
  kind: 'init',
  contentType: 'video/mp4',
  createdAt: Date.now(),
});
send({ profile: 'High', fileName: init });
process.send?.('ready');

const MAX_SEQUENCE = 400;
await Promise.all(
  PROFILE_NAMES.map(async (profile) => {
    const fmp4 = profile === 'High';
    for (let sequence = 0; sequence < MAX_SEQUENCE; sequence++) {
      const fileName = `${incarnation}-${sequence}${fmp4 ? '.m4s' : '.ts'}`;
      await files.write(
        'crash',
        incarnation,
        profile,
        fileName,
        crashContent(incarnation, profile, sequence),
        {
          kind: 'segment',
          sequence,
          durationSec: 2,
          discontinuity: false,
          discontinuitySequence: 0,
          programDateTime: Date.now(),
          ...(fmp4 ? { initId: init } : {}),
          contentType: fmp4 ? 'video/mp4' : 'video/mp2t',
          createdAt: Date.now(),
        },
      );
      send({ profile, fileName });
    }
  }),
);

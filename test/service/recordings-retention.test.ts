import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { DistributionService } from '../../src/service/distribution-service.js';
import { Recordings, type RecordingsOptions } from '../../src/service/recordings.js';
import { SegmentFiles } from '../../src/storage/segment-files.js';
import { SqliteStore } from '../../src/storage/sqlite-store.js';
import { STORAGE_DEFAULTS } from '../../src/storage/store.js';
import { startCli, stopCli } from '../helpers/cli.js';
import { call } from '../helpers/http.js';
import { segmentMeta, tempSegmentFiles } from '../helpers/segment-files.js';
import { streamRecord, tempDir } from '../storage/store-fixtures.js';

/**
 * Retention of recordings (README "Recordings"): past `--recordings-max-age` they go, then the
 * oldest while all hold more than `--recordings-max-bytes`; a recording being written never.
 * Recordings are made as ingest leaves them (segment files with their records), at chosen ages,
 * so nothing waits for time to pass.
 */

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Bytes of every recording made here (two segments of half as many). */
const SIZE = 1000;
const NOW = 1_750_000_000_000;

/** Stores a recording of two Low segments, last written `ageMs` before `now`. */
async function record(
  files: SegmentFiles,
  recordingId: string,
  incarnation: string,
  ageMs: number,
  now = NOW,
): Promise<void> {
  for (const sequence of [0, 1]) {
    const createdAt = now - ageMs - (1 - sequence) * 2000;
    await files.write(
      recordingId,
      incarnation,
      'Low',
      `${incarnation}-${sequence}.ts`,
      Buffer.alloc(SIZE / 2, sequence),
      segmentMeta(sequence, { programDateTime: createdAt - 2000, createdAt }),
    );
  }
}

describe('recordings retention', () => {
  /**
   * Recordings over fresh segment files: `live` is the stream being written (its files in the
   * live stream's incarnation), the others ended, each last written the given time ago.
   */
  async function library(
    t: TestContext,
    ages: Record<string, number>,
    limits: Pick<RecordingsOptions, 'maxAgeSeconds' | 'maxBytes'>,
  ) {
    const files = await tempSegmentFiles(t, { durable: false });
    const service = new DistributionService({ clock: () => NOW });
    for (const [id, ageMs] of Object.entries(ages)) {
      const incarnation =
        id === 'live' ? service.startLiveStream('live').incarnation : `ended-${id}`;
      await record(files, id, incarnation, ageMs);
    }
    const removed: string[] = [];
    const recordings = new Recordings(files, service, {
      ...limits,
      clock: () => NOW,
      onRemoved: (id, reason, bytes) => removed.push(`${id}:${reason}:${bytes}`),
    });
    const left = () => recordings.list().map((r) => r.recordingId);
    return { files, recordings, removed, left };
  }

  it('by age: removes those last written before the limit, oldest first, keeps younger ones and the one being written', async (t) => {
    const { recordings, removed, left, files } = await library(
      t,
      { live: 30 * DAY_MS, a: 10 * DAY_MS, b: 8 * DAY_MS, c: DAY_MS },
      { maxAgeSeconds: 7 * 86_400, maxBytes: 0 },
    );
    assert.deepEqual(left(), ['live', 'a', 'b', 'c']);
    await recordings.sweep();
    assert.deepEqual(removed, [`a:age:${SIZE}`, `b:age:${SIZE}`]);
    assert.deepEqual(left(), ['live', 'c']);
    assert.equal(files.bytes('a') + files.bytes('b'), 0, 'their files are gone');
    assert.equal(recordings.get('live').status, 'recording');
  });

  it('by size: removes the oldest ended ones until all fit, never the one being written even when it is the oldest', async (t) => {
    const { recordings, removed, left, files } = await library(
      t,
      { live: 4 * HOUR_MS, a: 3 * HOUR_MS, b: 2 * HOUR_MS, c: HOUR_MS },
      { maxAgeSeconds: 0, maxBytes: 2.5 * SIZE },
    );
    await recordings.sweep();
    // Removing the live one first would have left b and c.
    assert.deepEqual(removed, [`a:size:${SIZE}`, `b:size:${SIZE}`]);
    assert.deepEqual(left(), ['live', 'c']);
    assert.equal(files.totalBytes(), 2 * SIZE);
  });

  it('by both: the age limit first, then the oldest while still over the size limit', async (t) => {
    const { recordings, removed, left } = await library(
      t,
      { a: 9 * DAY_MS, live: 8 * DAY_MS, b: 2 * HOUR_MS, c: HOUR_MS },
      { maxAgeSeconds: 7 * 86_400, maxBytes: 2.5 * SIZE },
    );
    await recordings.sweep();
    assert.deepEqual(removed, [`a:age:${SIZE}`, `b:size:${SIZE}`]);
    assert.deepEqual(left(), ['live', 'c']);
  });

  it('keeps everything with both limits off (0)', async (t) => {
    const { recordings, removed, left } = await library(
      t,
      { live: 400 * DAY_MS, a: 300 * DAY_MS, b: DAY_MS },
      { maxAgeSeconds: 0, maxBytes: 0 },
    );
    await recordings.sweep();
    assert.deepEqual(removed, []);
    assert.deepEqual(left(), ['live', 'a', 'b']);
  });

  it('runs at start-up with --recordings-max-age and --recordings-max-bytes, before anything is served', async (t) => {
    // A data directory as a stopped server left it: three ended recordings and a live stream
    // (in the state database) whose files are the oldest of all.
    const dataDir = await tempDir(t, 'vtp-retention-');
    const now = Date.now();
    const files = new SegmentFiles(dataDir);
    await record(files, 'onair', 'inc-onair', 20 * DAY_MS, now);
    await record(files, 'old', 'inc-old', 10 * DAY_MS, now);
    await record(files, 'mid', 'inc-mid', 2 * HOUR_MS, now);
    await record(files, 'new', 'inc-new', HOUR_MS, now);
    const store = new SqliteStore(path.join(dataDir, STORAGE_DEFAULTS.fileName));
    store.saveStream(
      streamRecord({
        recordingId: 'onair',
        incarnation: 'inc-onair',
        startedAt: now - 20 * DAY_MS,
        publishKeyHash: undefined,
        nextSequence: 2,
        discontinuitySequences: {},
      }),
    );
    store.close();

    const cli = await startCli([
      '--data-dir',
      dataDir,
      '--recordings-max-age',
      String(7 * 86_400),
      '--recordings-max-bytes',
      String(2.5 * SIZE),
    ]);
    try {
      const listed = await call(`${cli.url}/api/v1/recordings`, 'GET');
      assert.equal(listed.status, 200);
      const left = listed.body.recordings.map((r: { recording_id: string; status: string }) => [
        r.recording_id,
        r.status,
      ]);
      // old went by age, mid by size (oldest of the ended ones left); onair is being written.
      assert.deepEqual(left, [
        ['onair', 'recording'],
        ['new', 'complete'],
      ]);
      const removals = cli.output
        .filter((line) => line.includes('"recording removed"'))
        .map((line) => JSON.parse(line) as { recordingId: string; reason: string });
      assert.deepEqual(
        removals.map((r) => `${r.recordingId}:${r.reason}`),
        ['old:age', 'mid:size'],
      );
    } finally {
      await stopCli(cli);
    }
  });
});

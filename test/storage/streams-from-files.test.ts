import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import pino from 'pino';
import type { ProfileName } from '../../src/core/profiles.js';
import { rfc3339 } from '../../src/core/timestamp.js';
import { PublishAccess } from '../../src/ingest/publish-access.js';
import { DistributionService } from '../../src/service/distribution-service.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import {
  type ScanProblem,
  type SegmentFileMeta,
  SegmentFiles,
  type StoredFile,
} from '../../src/storage/segment-files.js';
import { recoverState } from '../../src/storage/state-recovery.js';
import { rebuildLostStreams, streamFromFiles } from '../../src/storage/streams-from-files.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { segmentMeta, tempSegmentFiles } from '../helpers/segment-files.js';
import { streamRecord } from './store-fixtures.js';

/*
 * The rule that rebuilds a stream the state database lost from its segment files (README,
 * "Checked at start"): live when its last segment is recent, ended when it is older than the
 * retention; never for an id the store still knows.
 */

const HOUR = 3_600_000;
const RETENTION_MS = 30_000;
const SETTINGS = { maxViewers: 7, retentionMs: RETENTION_MS };
const OLD = 'a0c1d2e3f4a5';
const NEW = 'b0c1d2e3f4a5';

interface Written {
  readonly sequence: number;
  readonly createdAt: number;
  readonly durationSec?: number;
  readonly discontinuitySequence?: number;
}

function meta(w: Written): SegmentFileMeta {
  const durationSec = w.durationSec ?? 2;
  return segmentMeta(w.sequence, {
    durationSec,
    discontinuitySequence: w.discontinuitySequence ?? 0,
    programDateTime: w.createdAt - durationSec * 1000,
    createdAt: w.createdAt,
  });
}

/** Writes segments of one incarnation and rendition, each a few distinct bytes. */
async function write(
  files: SegmentFiles,
  recordingId: string,
  incarnation: string,
  profile: ProfileName,
  written: readonly Written[],
): Promise<void> {
  for (const w of written) {
    const bytes = Buffer.from(`${recordingId}/${incarnation}/${profile}/${w.sequence}`);
    await files.write(recordingId, incarnation, profile, `${incarnation}-${w.sequence}.ts`, bytes, {
      ...meta(w),
    });
  }
}

/** A pino logger whose lines land in `lines`. */
function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** Rebuilds what `store` lacks into a fresh service, logging to `lines`. */
function rebuild(
  files: SegmentFiles,
  problems: readonly ScanProblem[],
  store: MemoryStore,
  keys = new PublishAccess(undefined),
) {
  const service = new DistributionService();
  const { logger, lines } = capture();
  const rebuilt = rebuildLostStreams(files, problems, store, service, keys, SETTINGS, logger);
  return { rebuilt, service, lines };
}

const REBUILT = 'stream rebuilt from its segment files (the state database had lost it)';

describe('streams rebuilt from their segment files', () => {
  /** Files written by one SegmentFiles, read back by a fresh one as a restarted server scans. */
  async function scanned(
    t: TestContext,
    fill: (files: SegmentFiles) => Promise<void>,
  ): Promise<{ files: SegmentFiles; problems: ScanProblem[] }> {
    const writer = await tempSegmentFiles(t);
    await fill(writer);
    const files = new SegmentFiles(writer.dataDir);
    const { problems } = await files.scan();
    return { files, problems };
  }

  it('an old recording (last segment older than the retention) comes back ended at its end, saved, never live', async (t) => {
    const now = Date.now();
    const lastAt = now - 2 * HOUR;
    const { files, problems } = await scanned(t, async (files) => {
      for (const profile of ['Low', 'High'] as const) {
        await write(files, 'old', OLD, profile, [
          { sequence: 0, createdAt: lastAt - 4000 },
          { sequence: 1, createdAt: lastAt - 2000 },
          { sequence: 2, createdAt: lastAt, durationSec: 2.4 },
        ]);
      }
    });
    const store = new MemoryStore();
    const { rebuilt, service, lines } = rebuild(files, problems, store);
    assert.equal(rebuilt.length, 1);
    assert.equal(rebuilt[0]?.live, false);
    assert.equal(rebuilt[0]?.segments, 6);
    // Saved, ended where its last segment ends, with the server's stream defaults and no key.
    assert.deepEqual(store.getStream('old'), {
      recordingId: 'old',
      incarnation: OLD,
      startedAt: lastAt - 4000 - 2000,
      endedAt: lastAt,
      settings: SETTINGS,
      publishKeyHash: undefined,
      targetDurationSec: 2,
      nextSequence: 3,
      discontinuitySequences: { Low: 0, High: 0 },
    });
    // Past its retention: not brought into memory, so no push can continue it.
    assert.throws(() => service.getDistributor('old'), { name: 'StreamNotFoundError' });
    const warnings = lines.filter((l) => l.msg === REBUILT);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.level, 40);
    assert.equal(warnings[0]?.recordingId, 'old');
    assert.equal(warnings[0]?.incarnation, OLD);
    assert.equal(warnings[0]?.status, 'ended');
    assert.equal(warnings[0]?.segments, 6);
    assert.equal(warnings[0]?.endedAt, new Date(lastAt).toISOString());

    // The next start finds the row: nothing is rebuilt again, and recovery leaves it ended.
    const next = new DistributionService();
    recoverState(store, next, new PublishAccess(undefined));
    assert.deepEqual(
      rebuildLostStreams(files, [], store, next, new PublishAccess(undefined), SETTINGS),
      [],
    );
    assert.throws(() => next.getDistributor('old'), { name: 'StreamNotFoundError' });
  });

  it('a recent recording comes back live in its newest incarnation, its numbering and timeline continued', async (t) => {
    const now = Date.now();
    const { files, problems } = await scanned(t, async (files) => {
      // An older incarnation of the id (a reused id whose replaced files were still there).
      await write(files, 'talk', OLD, 'Low', [{ sequence: 0, createdAt: now - HOUR }]);
      await write(files, 'talk', NEW, 'Low', [
        { sequence: 0, createdAt: now - 6000 },
        { sequence: 1, createdAt: now - 4000, discontinuitySequence: 1 },
        { sequence: 2, createdAt: now - 2000, discontinuitySequence: 1 },
      ]);
      await write(files, 'talk', NEW, 'Medium', [
        { sequence: 0, createdAt: now - 6000 },
        { sequence: 1, createdAt: now - 2000, durationSec: 5.6 },
      ]);
    });
    const store = new MemoryStore();
    const keys = new PublishAccess('server-key');
    const {
      rebuilt: [stream],
      service,
      lines,
    } = rebuild(files, problems, store, keys);
    assert.equal(stream?.live, true);
    assert.deepEqual(store.getStream('talk'), {
      recordingId: 'talk',
      incarnation: NEW,
      startedAt: now - 8000,
      endedAt: undefined,
      settings: SETTINGS,
      publishKeyHash: undefined,
      // The longest segment (5.6 s) rounds to 6.
      targetDurationSec: 6,
      nextSequence: 3,
      discontinuitySequences: { Low: 1, Medium: 0 },
    });
    const distributor = service.getDistributor('talk');
    assert.equal(distributor.status, 'live');
    assert.equal(distributor.incarnation, NEW);
    assert.equal(distributor.nextSequence, 3);
    assert.equal(distributor.maxViewers, SETTINGS.maxViewers);
    // The server's key applies to its pushes now, and the warning says so (never the key).
    assert.equal(keys.publishKeyFor('talk'), 'server-key');
    const warning = lines.find((l) => l.msg === REBUILT);
    assert.equal(warning?.status, 'live');
    assert.equal(warning?.segments, 5);
    assert.match(
      String(warning?.publishKey),
      /own publish key.* is lost.*the server's publish key/,
    );
    assert.ok(!JSON.stringify(lines).includes('server-key'));
  });

  it('numbers of files the scan set aside count: a URL served before the crash is never reused', () => {
    const now = Date.now();
    const segment: StoredFile = {
      recordingId: 'r',
      incarnation: NEW,
      profile: 'Low',
      fileName: `${NEW}-0.ts`,
      size: 1,
      sha256: 'x'.repeat(43),
      meta: meta({ sequence: 0, createdAt: now }),
    };
    const files = [segment];
    const problem = (file: string): ScanProblem => ({
      path: path.join('segments', 'r', file),
      reason: 'test',
      action: 'quarantined',
      message: 'test',
    });
    const nextOf = (problems: ScanProblem[]) =>
      streamFromFiles('r', files, problems, SETTINGS, now)?.record.nextSequence;
    assert.equal(nextOf([]), 1);
    // A quarantined segment and an unfinished write of this incarnation name later numbers.
    assert.equal(nextOf([problem(`${NEW}/High/${NEW}-4.ts`)]), 5);
    assert.equal(nextOf([problem(`${NEW}/Low/.${NEW}-6.ts.0a1b2c3d4e5f.tmp`)]), 7);
    // Another incarnation's, another recording's, and names that are not segments do not.
    assert.equal(nextOf([problem(`${OLD}/Low/${OLD}-9.ts`)]), 1);
    assert.equal(
      nextOf([{ ...problem(''), path: path.join('segments', 'q', NEW, 'Low', `${NEW}-9.ts`) }]),
      1,
    );
    assert.equal(nextOf([problem(`${NEW}/Low/init-${NEW}-9.mp4`)]), 1);
    // Only init sections on disk: no segment to rebuild a stream from.
    const init: StoredFile = {
      ...segment,
      fileName: `init-${NEW}-0.mp4`,
      meta: { kind: 'init' as const, contentType: 'video/mp4', createdAt: now },
    };
    assert.equal(streamFromFiles('r', [init], [], SETTINGS, now), undefined);
  });

  it('leaves an id the store knows alone, whatever its files', async (t) => {
    const now = Date.now();
    const { files, problems } = await scanned(t, async (files) => {
      await write(files, 'known', NEW, 'Low', [{ sequence: 5, createdAt: now }]);
    });
    const store = new MemoryStore();
    const stored = streamRecord({ recordingId: 'known', incarnation: OLD, endedAt: now - HOUR });
    store.saveStream(stored);
    const { rebuilt, lines } = rebuild(files, problems, store);
    assert.deepEqual(rebuilt, []);
    assert.deepEqual(store.getStream('known'), stored);
    assert.equal(lines.filter((l) => l.msg === REBUILT).length, 0);
  });

  describe('in a server started on a data directory without its database', () => {
    it('lists the old recording complete (its stream ended) and the recent one live, its window served', async (t) => {
      let server: TestServer | undefined;
      // Registered first, so it runs before the data directory is removed.
      t.after(() => server?.close());
      const now = Date.now();
      const writer = await tempSegmentFiles(t);
      await write(writer, 'old', OLD, 'Low', [
        { sequence: 0, createdAt: now - 2 * HOUR - 2000 },
        { sequence: 1, createdAt: now - 2 * HOUR },
      ]);
      await write(writer, 'recent', NEW, 'Low', [
        { sequence: 0, createdAt: now - 2000 },
        { sequence: 1, createdAt: now },
      ]);
      const { logger, lines } = capture();
      server = await startTestServer({ retentionMs: RETENTION_MS }, 200, {
        dataDir: writer.dataDir,
        logger,
      });
      const url = server.url;
      assert.deepEqual(
        lines
          .filter((l) => l.msg === REBUILT)
          .map((l) => [l.recordingId, l.status])
          .sort(),
        [
          ['old', 'ended'],
          ['recent', 'live'],
        ],
      );
      const streams = await call(`${url}/api/v1/streams`, 'GET');
      assert.deepEqual(
        (streams.body.streams as { recording_id: string; status: string }[]).map((s) => [
          s.recording_id,
          s.status,
        ]),
        [['recent', 'live']],
      );
      const old = await call(`${url}/api/v1/recordings/old`, 'GET');
      assert.equal(old.status, 200);
      assert.equal(old.body.status, 'complete');
      assert.equal(old.body.ended_at, rfc3339(now - 2 * HOUR));
      assert.equal((await call(`${url}/api/v1/recordings/recent`, 'GET')).body.status, 'recording');
      const playlist = await (await fetch(`${url}/live/recent/Low/index.m3u8`)).text();
      assert.match(playlist, new RegExp(`${NEW}-0\\.ts`));
      assert.match(playlist, new RegExp(`${NEW}-1\\.ts`));
      const bytes = await fetch(`${url}/live/recent/Low/${NEW}-1.ts`);
      assert.equal(bytes.status, 200);
      assert.equal(await bytes.text(), `recent/${NEW}/Low/1`);
      // Both rows are stored: the next start restores them rather than rebuilding them.
      assert.equal(server.store?.getStream('old')?.endedAt, now - 2 * HOUR);
      assert.equal(server.store?.getStream('recent')?.incarnation, NEW);
      await server.close();
      server = undefined;
    });
  });
});

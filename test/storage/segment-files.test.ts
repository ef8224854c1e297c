import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { contentTag } from '../../src/service/content-tag.js';
import {
  SegmentFiles,
  StoredFileExistsError,
  segmentFileMeta,
} from '../../src/storage/segment-files.js';
import { segmentMeta, tempSegmentFiles } from '../helpers/segment-files.js';

const INC = '3f9a0c2d1e4b';

describe('SegmentFiles', () => {
  it('writes a segment under segments/{recording}/{incarnation}/{profile} with a record beside it', async (t) => {
    const files = await tempSegmentFiles(t);
    const bytes = randomBytes(250_000);
    const stored = await files.write('lecture-1', INC, 'Low', `${INC}-7.ts`, bytes, segmentMeta(7));
    const dir = path.join(files.dataDir, 'segments', 'lecture-1', INC, 'Low');
    assert.deepEqual((await readdir(dir)).sort(), [`${INC}-7.ts`, `${INC}-7.ts.json`]);
    assert.deepEqual(await readFile(path.join(dir, `${INC}-7.ts`)), bytes);
    assert.equal(stored.size, 250_000);
    assert.equal(stored.sha256, createHash('sha256').update(bytes).digest('base64url'));
    // The stored hash gives the same content ETag the service computes from the bytes.
    assert.equal(`"${stored.sha256.slice(0, 22)}"`, contentTag(bytes));
    const record = JSON.parse(await readFile(path.join(dir, `${INC}-7.ts.json`), 'utf8'));
    assert.equal(record.size, 250_000);
    assert.equal(record.meta.sequence, 7);
    assert.equal(record.meta.programDateTime, segmentMeta(7).programDateTime);
  });

  it('reads back what a fresh instance scans: bytes, sizes and the fields playlists need', async (t) => {
    const writer = await tempSegmentFiles(t);
    const init = randomBytes(900);
    await writer.write('lec', INC, 'High', `init-${INC}-0.mp4`, init, {
      kind: 'init',
      contentType: 'video/mp4',
      createdAt: 1,
    });
    const segments = [randomBytes(1000), randomBytes(2000), randomBytes(3000)];
    for (const [i, data] of segments.entries()) {
      await writer.write(
        'lec',
        INC,
        'High',
        `${INC}-${i}.m4s`,
        data,
        segmentMeta(i, {
          contentType: 'video/mp4',
          initId: `init-${INC}-0.mp4`,
          discontinuity: i === 2,
          discontinuitySequence: i === 2 ? 1 : 0,
          gapBefore: i === 1 ? [2] : undefined,
        }),
      );
    }
    const reader = new SegmentFiles(writer.dataDir);
    const { files, problems } = await reader.scan();
    assert.deepEqual(problems, []);
    assert.deepEqual(
      files.map((f) => f.fileName),
      [`init-${INC}-0.mp4`, `${INC}-0.m4s`, `${INC}-1.m4s`, `${INC}-2.m4s`],
    );
    const third = files[3];
    assert.ok(third?.meta.kind === 'segment');
    assert.equal(third.meta.discontinuity, true);
    assert.equal(third.meta.discontinuitySequence, 1);
    assert.equal(third.meta.initId, `init-${INC}-0.mp4`);
    const second = files[2];
    assert.ok(second?.meta.kind === 'segment');
    assert.deepEqual(second.meta.gapBefore, [2]);
    assert.deepEqual(await reader.read('lec', INC, 'High', `${INC}-1.m4s`), segments[1]);
    assert.equal(reader.bytes('lec'), 900 + 1000 + 2000 + 3000);
    const stream = reader.createReadStream('lec', INC, 'High', `${INC}-2.m4s`, {
      start: 10,
      end: 19,
    });
    assert.ok(stream);
    assert.equal(await text(stream), segments[2]?.subarray(10, 20).toString());
    assert.equal(await reader.read('lec', INC, 'High', `${INC}-9.m4s`), undefined);
  });

  it('builds a record from a published segment', () => {
    const m = segmentFileMeta({
      id: `${INC}-4.ts`,
      sequence: 4,
      profile: 'Low',
      durationSec: 1.96,
      data: new Uint8Array(3),
      contentType: 'video/mp2t',
      createdAt: 10,
      programDateTime: 5,
      discontinuity: true,
      discontinuitySequence: 2,
      gapBefore: [],
    });
    assert.deepEqual(m, {
      kind: 'segment',
      sequence: 4,
      durationSec: 1.96,
      discontinuity: true,
      discontinuitySequence: 2,
      programDateTime: 5,
      contentType: 'video/mp2t',
      createdAt: 10,
    });
  });

  it('finds a truncated file and a file with flipped bytes, moves both aside and keeps the rest', async (t) => {
    const files = await tempSegmentFiles(t);
    for (let i = 0; i < 4; i++) {
      await files.write(
        'lec',
        INC,
        'Medium',
        `${INC}-${i}.ts`,
        randomBytes(10_000),
        segmentMeta(i),
      );
    }
    const dir = path.join(files.dataDir, 'segments', 'lec', INC, 'Medium');
    await truncate(path.join(dir, `${INC}-1.ts`), 4_000);
    const flipped = path.join(dir, `${INC}-2.ts`);
    const data = await readFile(flipped);
    data[5_000] = (data[5_000] ?? 0) ^ 0xff;
    await writeFile(flipped, data);

    const restarted = new SegmentFiles(files.dataDir);
    const { files: intact, problems } = await restarted.scan();
    assert.deepEqual(
      intact.map((f) => f.fileName),
      [`${INC}-0.ts`, `${INC}-3.ts`],
    );
    assert.deepEqual(
      problems.map((p) => [p.path, p.action]),
      [
        [`segments/lec/${INC}/Medium/${INC}-1.ts`, 'quarantined'],
        [`segments/lec/${INC}/Medium/${INC}-2.ts`, 'quarantined'],
      ],
    );
    assert.match(
      problems[0]?.message ?? '',
      /Medium\/3f9a0c2d1e4b-1\.ts: truncated: 4000 of 10000/,
    );
    assert.match(problems[1]?.message ?? '', /Medium\/3f9a0c2d1e4b-2\.ts: .*SHA-256/);
    assert.match(problems[1]?.message ?? '', /moved to quarantine\/lec\/3f9a0c2d1e4b\/Medium\//);
    assert.deepEqual(
      (await readdir(path.join(files.dataDir, 'quarantine', 'lec', INC, 'Medium'))).sort(),
      [`${INC}-1.ts`, `${INC}-1.ts.json`, `${INC}-2.ts`, `${INC}-2.ts.json`],
    );
    assert.equal(restarted.bytes('lec'), 20_000);
    // A second start finds nothing more to say.
    assert.deepEqual((await new SegmentFiles(files.dataDir).scan()).problems, []);
  });

  it('checks only sizes when asked to, catching truncation but not flipped bytes', async (t) => {
    const files = await tempSegmentFiles(t);
    for (let i = 0; i < 3; i++) {
      await files.write('lec', INC, 'Low', `${INC}-${i}.ts`, randomBytes(1000), segmentMeta(i));
    }
    const dir = path.join(files.dataDir, 'segments', 'lec', INC, 'Low');
    await truncate(path.join(dir, `${INC}-0.ts`), 10);
    const data = await readFile(path.join(dir, `${INC}-1.ts`));
    data[0] = (data[0] ?? 0) ^ 1;
    await writeFile(path.join(dir, `${INC}-1.ts`), data);
    const { files: kept, problems } = await new SegmentFiles(files.dataDir).scan('lec', {
      verify: 'size',
    });
    assert.deepEqual(
      kept.map((f) => f.fileName),
      [`${INC}-1.ts`, `${INC}-2.ts`],
    );
    assert.equal(problems.length, 1);
  });

  it('deletes temporary files and bytes without a record, which no resolved write left', async (t) => {
    const files = await tempSegmentFiles(t);
    await files.write('lec', INC, 'VeryLow', `${INC}-0.ts`, randomBytes(100), segmentMeta(0));
    const dir = path.join(files.dataDir, 'segments', 'lec', INC, 'VeryLow');
    await writeFile(path.join(dir, `.${INC}-1.ts.a1b2c3.tmp`), randomBytes(50));
    await writeFile(path.join(dir, `${INC}-2.ts`), randomBytes(50));
    const { files: kept, problems } = await new SegmentFiles(files.dataDir).scan();
    assert.deepEqual(
      kept.map((f) => f.fileName),
      [`${INC}-0.ts`],
    );
    assert.deepEqual(
      problems.map((p) => [path.basename(p.path), p.action]),
      [
        [`.${INC}-1.ts.a1b2c3.tmp`, 'deleted'],
        [`${INC}-2.ts`, 'deleted'],
      ],
    );
    assert.deepEqual((await readdir(dir)).sort(), [`${INC}-0.ts`, `${INC}-0.ts.json`]);
  });

  it('rejects a damaged record, a record without its file, and a segment whose init section is gone', async (t) => {
    const files = await tempSegmentFiles(t);
    const init = `init-${INC}-0.mp4`;
    await files.write('lec', INC, 'High', init, randomBytes(10), {
      kind: 'init',
      contentType: 'video/mp4',
      createdAt: 0,
    });
    for (let i = 0; i < 3; i++) {
      await files.write('lec', INC, 'High', `${INC}-${i}.m4s`, randomBytes(100), segmentMeta(i));
    }
    await files.write(
      'lec',
      INC,
      'Low',
      `${INC}-0.m4s`,
      randomBytes(100),
      segmentMeta(0, { initId: init }),
    );
    await files.write(
      'lec',
      INC,
      'High',
      `${INC}-3.m4s`,
      randomBytes(100),
      segmentMeta(3, { initId: init }),
    );
    const high = path.join(files.dataDir, 'segments', 'lec', INC, 'High');
    // A record still valid JSON but with one digit changed: its check catches it.
    const recordFile = path.join(high, `${INC}-0.m4s.json`);
    await writeFile(
      recordFile,
      (await readFile(recordFile, 'utf8')).replace('"durationSec":2', '"durationSec":3'),
    );
    await rm(path.join(high, `${INC}-1.m4s`));
    const { files: kept, problems } = await new SegmentFiles(files.dataDir).scan();
    assert.deepEqual(
      kept.map((f) => `${f.profile}/${f.fileName}`),
      [`High/${init}`, `High/${INC}-2.m4s`, `High/${INC}-3.m4s`],
    );
    const reasons = problems.map((p) => `${path.basename(p.path)}: ${p.reason}`);
    assert.deepEqual(reasons, [
      `${INC}-0.m4s: record does not match its check`,
      `${INC}-1.m4s: record of a file that is missing`,
      `${INC}-0.m4s: needs init section ${init}, not intact`,
    ]);
  });

  it('keeps a name bound to its bytes: the same bytes again are a no-op, other bytes an error', async (t) => {
    const files = await tempSegmentFiles(t);
    const bytes = randomBytes(100);
    await files.write('lec', INC, 'Low', `${INC}-0.ts`, bytes, segmentMeta(0));
    await files.write('lec', INC, 'Low', `${INC}-0.ts`, bytes, segmentMeta(0));
    await assert.rejects(
      files.write('lec', INC, 'Low', `${INC}-0.ts`, randomBytes(100), segmentMeta(0)),
      StoredFileExistsError,
    );
    assert.deepEqual(await files.read('lec', INC, 'Low', `${INC}-0.ts`), bytes);
    assert.equal(files.bytes('lec'), 100);
  });

  it('refuses a record that would not scan back, before writing anything', async (t) => {
    const files = await tempSegmentFiles(t);
    await assert.rejects(
      files.write(
        'lec',
        INC,
        'Low',
        `${INC}-0.ts`,
        randomBytes(10),
        segmentMeta(0, { durationSec: Number.NaN }),
      ),
      TypeError,
    );
    assert.deepEqual(await readdir(files.dataDir), []);
  });

  it('removes a stream or one incarnation and counts the bytes per stream for retention', async (t) => {
    const files = await tempSegmentFiles(t);
    const other = 'a1a1a1a1a1a1';
    await files.write('lec', INC, 'Low', `${INC}-0.ts`, randomBytes(1000), segmentMeta(0));
    await files.write('lec', other, 'Low', `${other}-1.ts`, randomBytes(500), segmentMeta(1));
    await files.write('keep', INC, 'High', `${INC}-0.ts`, randomBytes(300), segmentMeta(0));
    assert.equal(files.bytes('lec'), 1500);
    assert.equal(files.totalBytes(), 1800);
    assert.deepEqual(
      files.recordings().map((r) => [r.recordingId, r.bytes, r.files]),
      [
        ['lec', 1500, 2],
        ['keep', 300, 1],
      ],
    );
    assert.equal(await files.removeIncarnation('lec', INC), 1000);
    assert.equal(files.bytes('lec'), 500);
    assert.deepEqual(
      files.list('lec').map((f) => f.fileName),
      [`${other}-1.ts`],
    );
    assert.equal(await files.removeStream('lec'), 500);
    assert.equal(files.totalBytes(), 300);
    assert.deepEqual(await readdir(path.join(files.dataDir, 'segments')), ['keep']);
    assert.deepEqual(await readdir(path.join(files.dataDir, 'trash')), []);
    // Removing what is not there frees nothing; writing again afterwards works.
    assert.equal(await files.removeStream('lec'), 0);
    await files.write('lec', INC, 'Low', `${INC}-5.ts`, randomBytes(10), segmentMeta(5));
    const rescanned = await new SegmentFiles(files.dataDir).scan();
    assert.deepEqual(
      rescanned.files.map((f) => `${f.recordingId}/${f.fileName}`),
      [`keep/${INC}-0.ts`, `lec/${INC}-5.ts`],
    );
  });

  it('waits for writes in flight before removing a stream, so none recreates it half', async (t) => {
    const files = await tempSegmentFiles(t);
    const writes = Array.from({ length: 8 }, (_, i) =>
      files.write('lec', INC, 'Low', `${INC}-${i}.ts`, randomBytes(200_000), segmentMeta(i)),
    );
    const removed = files.removeStream('lec');
    await Promise.all(writes);
    assert.equal(await removed, 8 * 200_000);
    const { files: left, problems } = await new SegmentFiles(files.dataDir).scan();
    assert.deepEqual(left, []);
    assert.deepEqual(problems, []);
  });

  it('finishes a removal a crash interrupted: the trash is emptied at start-up', async (t) => {
    const files = await tempSegmentFiles(t);
    await files.write('lec', INC, 'Low', `${INC}-0.ts`, randomBytes(10), segmentMeta(0));
    const trashed = path.join(files.dataDir, 'trash', 'deadbeef', INC, 'Low');
    await mkdir(trashed, { recursive: true });
    await writeFile(path.join(trashed, `${INC}-0.ts`), 'left by a crash');
    const { files: kept, problems } = await new SegmentFiles(files.dataDir).scan();
    assert.deepEqual(
      kept.map((f) => f.fileName),
      [`${INC}-0.ts`],
    );
    assert.deepEqual(problems, []);
    await assert.rejects(readdir(path.join(files.dataDir, 'trash')), { code: 'ENOENT' });
  });
});

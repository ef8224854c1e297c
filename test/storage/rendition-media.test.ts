import assert from 'node:assert/strict';
import { access, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { MediaInfo } from '../../src/core/media-info.js';
import { DistributionService } from '../../src/service/distribution-service.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import {
  decodeMediaRecord,
  encodeMediaRecord,
  MEDIA_RECORD_NAME,
} from '../../src/storage/rendition-media-record.js';
import { sha256Of } from '../../src/storage/segment-file-record.js';
import { SegmentFiles } from '../../src/storage/segment-files.js';
import { recoverState, restoreSegmentWindows } from '../../src/storage/state-recovery.js';
import { segmentMeta, tempSegmentFiles } from '../helpers/segment-files.js';
import { streamRecord } from './store-fixtures.js';

const INC = '5c1e7a90b2d4';
const LOW: MediaInfo = { width: 426, height: 240, frameRate: 15, codecs: 'avc1.42c01e,mp4a.40.2' };
const HIGH: MediaInfo = { width: 854, height: 480, frameRate: 15, codecs: 'avc1.42c01f,mp4a.40.2' };

const meta = (sequence: number, createdAt = 1_700_000_000_500) =>
  segmentMeta(sequence, { programDateTime: createdAt - 500, createdAt });

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

describe("a rendition's media description beside its segments", () => {
  const profileDir = (files: SegmentFiles, profile: string, id = 'talk') =>
    path.join(files.segmentsDir, id, INC, profile);

  it('is written as media.json beside the files and read back by a fresh scan', async (t) => {
    const files = await tempSegmentFiles(t);
    await files.write('talk', INC, 'Low', `${INC}-0.ts`, Buffer.from('low'), meta(0));
    await files.write('talk', INC, 'High', `${INC}-0.ts`, Buffer.from('high'), meta(0));
    assert.equal(await files.writeMedia('talk', INC, 'Low', LOW), true);
    assert.equal(await files.writeMedia('talk', INC, 'High', { width: 1, height: 1 }), true);
    // A later probe (another encoder run) replaces what was stored.
    assert.equal(await files.writeMedia('talk', INC, 'High', HIGH), true);
    assert.deepEqual(files.media('talk', INC, 'Low'), LOW);
    assert.deepEqual((await readdir(profileDir(files, 'High'))).sort(), [
      `${INC}-0.ts`,
      `${INC}-0.ts.json`,
      MEDIA_RECORD_NAME,
    ]);

    const restarted = new SegmentFiles(files.dataDir);
    const { media, problems } = await restarted.scan();
    assert.deepEqual(problems, []);
    assert.equal(media.length, 2);
    assert.deepEqual(restarted.media('talk', INC, 'Low'), LOW);
    assert.deepEqual(restarted.media('talk', INC, 'High'), HIGH);
    assert.equal(restarted.media('talk', INC, 'Medium'), undefined);
    assert.equal(restarted.list('talk').length, 2, 'media.json is not a stored file');
  });

  it('is not written for a rendition with no stored file, nor brought back for a removed one', async (t) => {
    const files = await tempSegmentFiles(t);
    assert.equal(await files.writeMedia('talk', INC, 'Low', LOW), false);
    assert.equal(await exists(path.join(files.segmentsDir, 'talk')), false);

    await files.write('talk', INC, 'Low', `${INC}-0.ts`, Buffer.from('low'), meta(0));
    await files.writeMedia('talk', INC, 'Low', LOW);
    await files.removeIncarnation('talk', INC);
    assert.equal(files.media('talk', INC, 'Low'), undefined);
    // A write that comes after the removal (a stream's last description) makes no directory.
    assert.equal(await files.writeMedia('talk', INC, 'Low', LOW), false);
    assert.equal(await exists(path.join(files.segmentsDir, 'talk', INC)), false);
  });

  it('waits for a removal running at the time, then stores nothing', async (t) => {
    const files = await tempSegmentFiles(t);
    await files.write('talk', INC, 'Low', `${INC}-0.ts`, Buffer.from('low'), meta(0));
    const removed = files.removeIncarnation('talk', INC);
    const written = files.writeMedia('talk', INC, 'Low', LOW);
    assert.equal(await removed, 3);
    assert.equal(await written, false);
    assert.equal(await exists(path.join(files.segmentsDir, 'talk', INC)), false);
  });

  it('quarantines a damaged media.json at start-up and keeps the recording', async (t) => {
    const files = await tempSegmentFiles(t);
    await files.write('talk', INC, 'Low', `${INC}-0.ts`, Buffer.from('low'), meta(0));
    await files.writeMedia('talk', INC, 'Low', LOW);
    const file = path.join(profileDir(files, 'Low'), MEDIA_RECORD_NAME);
    await writeFile(file, (await readFile(file, 'utf8')).replace('426', '427'));

    const restarted = new SegmentFiles(files.dataDir);
    const { files: kept, problems } = await restarted.scan();
    assert.equal(kept.length, 1);
    assert.equal(restarted.media('talk', INC, 'Low'), undefined);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.action, 'quarantined');
    assert.equal(problems[0]?.reason, 'media record does not match its check');
    assert.equal(
      await exists(path.join(files.quarantineDir, 'talk', INC, 'Low', MEDIA_RECORD_NAME)),
      true,
    );
  });

  it('refuses a description that could break out of the playlist, writing or reading it', async (t) => {
    const files = await tempSegmentFiles(t);
    await files.write('talk', INC, 'Low', `${INC}-0.ts`, Buffer.from('low'), meta(0));
    const hostile = { ...LOW, codecs: 'avc1.42c01e"\n#EXT-X-ENDLIST' };
    await assert.rejects(files.writeMedia('talk', INC, 'Low', hostile), TypeError);
    assert.equal(await exists(path.join(profileDir(files, 'Low'), MEDIA_RECORD_NAME)), false);
    // A record with a valid check but a hostile field (written by something else) is refused too.
    const record = { v: 1, media: hostile };
    const text = JSON.stringify({
      ...record,
      check: sha256Of(Buffer.from(JSON.stringify(record))),
    });
    assert.equal(decodeMediaRecord(text), 'media record has unexpected fields');
    assert.deepEqual(decodeMediaRecord(encodeMediaRecord(LOW)), LOW);
    assert.equal(decodeMediaRecord('{"v":1'), 'media record is not JSON');
  });

  it('comes back with a live stream restored after a restart, before the encoder pushes again', async (t) => {
    const files = await tempSegmentFiles(t);
    const now = Date.now();
    await files.write('talk', INC, 'Low', `${INC}-0.ts`, Buffer.from('low'), meta(0, now));
    await files.write('talk', INC, 'High', `${INC}-0.ts`, Buffer.from('high'), meta(0, now));
    await files.writeMedia('talk', INC, 'High', HIGH);

    const restarted = new SegmentFiles(files.dataDir);
    await restarted.scan();
    const store = new MemoryStore();
    store.saveStream(
      streamRecord({
        recordingId: 'talk',
        incarnation: INC,
        startedAt: now - 1000,
        publishKeyHash: undefined,
        nextSequence: 1,
        discontinuitySequences: {},
      }),
    );
    const service = new DistributionService();
    recoverState(store, service, { setPublishKeyCheck: () => {} });
    const restored = await restoreSegmentWindows(restarted, store, service);
    assert.equal(restored.segments, 2);
    const distributor = service.getDistributor('talk');
    assert.equal(distributor.status, 'live');
    assert.deepEqual(distributor.mediaInfo('High'), HIGH);
    assert.equal(distributor.mediaInfo('Low'), undefined, 'Low was never described');
  });
});

import assert from 'node:assert/strict';
import {
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION } from '../../src/storage/migrations.js';
import { openStoreOrRecover, type StoreLog } from '../../src/storage/open-store.js';
import { SqliteStore } from '../../src/storage/sqlite-store.js';
import { StoreCorruptError, StoreVersionError } from '../../src/storage/store-errors.js';
import { sessionRecord, streamRecord, tempDir } from './store-fixtures.js';

const PAGE = 4096;
const NOW = () => new Date('2025-01-02T03:04:05.678Z');
const MOVED = 'vtp.db.corrupt-2025-01-02T03-04-05-678Z';

/** A real database of a few hundred pages: a stream and 2000 sessions. */
function writeDatabase(file: string): void {
  const store = new SqliteStore(file, { onError: () => {} });
  store.saveStream(streamRecord());
  for (let i = 0; i < 2000; i++)
    store.saveSession(`vs-${i}`, () => sessionRecord({ sessionId: `vs-${i}`, joinSeq: i }));
  store.close();
}

function overwrite(file: string, offset: number, bytes: Buffer): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, bytes, 0, bytes.length, offset);
  closeSync(fd);
}

function recordingLog(): StoreLog & {
  lines: { detail: Record<string, unknown>; message: string }[];
} {
  const lines: { detail: Record<string, unknown>; message: string }[] = [];
  return { lines, error: (detail, message) => lines.push({ detail, message }) };
}

const DAMAGE: Record<string, (file: string) => void> = {
  'truncated to half its size': (file) => truncateSync(file, Math.floor(statSync(file).size / 2)),
  'overwritten with garbage over a page in the middle': (file) => {
    const middle = Math.floor(statSync(file).size / PAGE / 2) * PAGE;
    overwrite(file, middle, Buffer.alloc(PAGE, 0xab));
  },
  'overwritten at its header': (file) => overwrite(file, 0, Buffer.from('not a database!!')),
};

describe('a damaged state database', () => {
  for (const [damage, apply] of Object.entries(DAMAGE)) {
    it(`is detected at open when ${damage}, with an error naming the file`, async (t) => {
      const file = path.join(await tempDir(t), 'vtp.db');
      writeDatabase(file);
      apply(file);
      assert.throws(
        () => new SqliteStore(file),
        (error: unknown) =>
          error instanceof StoreCorruptError &&
          error.file === file &&
          error.message.startsWith(`state database ${file} is corrupt or truncated: `),
      );
    });
  }

  it('is moved aside by openStoreOrRecover, which starts an empty store and logs it', async (t) => {
    const dir = await tempDir(t);
    const file = path.join(dir, 'vtp.db');
    writeDatabase(file);
    DAMAGE['truncated to half its size']?.(file);
    const damaged = readFileSync(file);
    const log = recordingLog();
    const store = openStoreOrRecover(dir, log, { onError: () => {} }, NOW);
    t.after(() => store.close());

    assert.deepEqual(store.listStreams(), []);
    assert.deepEqual(readFileSync(path.join(dir, MOVED)), damaged, 'kept for inspection');
    assert.equal(log.lines.length, 1);
    assert.equal(log.lines[0]?.detail.file, file);
    assert.equal(log.lines[0]?.detail.movedTo, path.join(dir, MOVED));
    assert.match(String(log.lines[0]?.detail.reason), /is corrupt or truncated/);
    assert.match(log.lines[0]?.message ?? '', /moved it aside and started an empty one/);

    store.saveStream(streamRecord({ incarnation: 'after-recovery' }));
    store.close();
    const reopened = openStoreOrRecover(dir, log, { onError: () => {} }, NOW);
    t.after(() => reopened.close());
    assert.equal(reopened.getStream('lecture-1')?.incarnation, 'after-recovery');
    assert.equal(log.lines.length, 1, 'a healthy database is opened as it is');
  });

  it('is not moved aside when it is only newer than this build', async (t) => {
    const dir = await tempDir(t);
    const file = path.join(dir, 'vtp.db');
    writeDatabase(file);
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const log = recordingLog();
    assert.throws(() => openStoreOrRecover(dir, log, {}, NOW), StoreVersionError);
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.includes('corrupt')),
      [],
    );
    assert.equal(log.lines.length, 0);
  });

  it('opens a healthy data directory with its data, making the directory when missing', async (t) => {
    const dir = path.join(await tempDir(t), 'nested', 'vtp-data');
    const log = recordingLog();
    const first = openStoreOrRecover(dir, log);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    first.saveSession('vs-1', () => sessionRecord());
    first.close();
    const second = openStoreOrRecover(dir, log);
    t.after(() => second.close());
    assert.deepEqual(second.listSessions('lecture-1'), [sessionRecord()]);
    assert.deepEqual(log.lines, []);
  });
});

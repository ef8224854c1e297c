import assert from 'node:assert/strict';
import {
  closeSync,
  copyFileSync,
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
import { checkWriteAheadLog } from '../../src/storage/wal-check.js';
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

/** Bytes of a write-ahead log's header and of each frame's header (SQLite's file format). */
const WAL_HEADER = 32;
const FRAME_HEADER = 24;
const STREAMS = 40;
const WAL_MOVED = 'vtp.db-wal.corrupt-2025-01-02T03-04-05-678Z';

/**
 * What a SIGKILL leaves: the files of a store still open, each of its `STREAMS` streams written
 * in a commit of its own, all of them still in the write-ahead log (nothing checkpointed yet).
 */
function crashSnapshot(from: string, to: string): void {
  const store = new SqliteStore(path.join(from, 'vtp.db'), { onError: () => {} });
  for (let i = 0; i < STREAMS; i++) {
    store.saveStream(streamRecord({ recordingId: `lecture-${i}`, startedAt: 1_000 + i }));
    store.flush();
  }
  for (const name of ['vtp.db', 'vtp.db-wal', 'vtp.key']) {
    copyFileSync(path.join(from, name), path.join(to, name));
  }
  store.close();
}

/** Which of the snapshot's streams a store holds: lecture-0 up to the count returned. */
function streamsHeld(store: SqliteStore): number {
  const ids = store.listStreams().map((s) => s.recordingId);
  assert.deepEqual(
    ids,
    ids.map((_, i) => `lecture-${i}`),
    'a prefix of the commits',
  );
  return ids.length;
}

describe('a damaged write-ahead log (after a crash)', () => {
  it('is whole in a crash snapshot, which opens with every commit', async (t) => {
    const dir = await tempDir(t);
    crashSnapshot(await tempDir(t), dir);
    assert.ok(statSync(path.join(dir, 'vtp.db-wal')).size > 0);
    assert.equal(checkWriteAheadLog(path.join(dir, 'vtp.db-wal')), undefined);
    const log = recordingLog();
    const store = openStoreOrRecover(dir, log, { onError: () => {} }, NOW);
    t.after(() => store.close());
    assert.equal(streamsHeld(store), STREAMS);
    assert.deepEqual(log.lines, []);
  });

  it('names a frame damaged in the middle, keeps a copy, and opens with the commits before it', async (t) => {
    const dir = await tempDir(t);
    crashSnapshot(await tempDir(t), dir);
    const wal = path.join(dir, 'vtp.db-wal');
    const frames = Math.floor((statSync(wal).size - WAL_HEADER) / (FRAME_HEADER + PAGE));
    const middle = WAL_HEADER + Math.floor(frames / 2) * (FRAME_HEADER + PAGE) + FRAME_HEADER;
    overwrite(wal, middle + 100, Buffer.alloc(64, 0xab));
    const damaged = readFileSync(wal);

    const found = checkWriteAheadLog(wal);
    assert.ok(found);
    assert.match(found.reason, new RegExp(`^frame ${Math.floor(frames / 2) + 1} of ${frames} `));
    assert.ok(found.keptCommits > 0 && (found.lostCommits ?? 0) > 0, JSON.stringify(found));

    const log = recordingLog();
    const store = openStoreOrRecover(dir, log, { onError: () => {} }, NOW);
    t.after(() => store.close());
    assert.equal(log.lines.length, 1);
    const line = log.lines[0] as { detail: Record<string, unknown>; message: string };
    assert.equal(line.detail.file, wal);
    assert.equal(line.detail.copiedTo, path.join(dir, WAL_MOVED));
    assert.equal(line.detail.lostCommits, found.lostCommits);
    assert.ok(line.message.includes(wal) && line.message.includes(path.join(dir, WAL_MOVED)));
    assert.match(line.message, /does not match its checksum; SQLite replays the \d+ commits/);
    assert.deepEqual(readFileSync(path.join(dir, WAL_MOVED)), damaged, 'kept for inspection');
    // What the line says happened: SQLite kept the commits before the frame, dropped the rest.
    const held = streamsHeld(store);
    assert.ok(held > 0 && held < STREAMS, `${held} of ${STREAMS}`);
  });

  it('names a log cut short inside a frame', async (t) => {
    const dir = await tempDir(t);
    crashSnapshot(await tempDir(t), dir);
    const wal = path.join(dir, 'vtp.db-wal');
    truncateSync(wal, Math.floor(statSync(wal).size / 2));
    const found = checkWriteAheadLog(wal);
    assert.match(
      found?.reason ?? '',
      /^it ends inside frame \d+ \(\d+ of its \d+ bytes\): it was cut short$/,
    );
    assert.equal(found?.lostCommits, undefined);
    const log = recordingLog();
    const store = openStoreOrRecover(dir, log, { onError: () => {} }, NOW);
    t.after(() => store.close());
    assert.equal(log.lines.length, 1);
    assert.match(log.lines[0]?.message ?? '', /drops whatever it held after them/);
    assert.ok(streamsHeld(store) < STREAMS);
  });

  it('takes the tail a crash leaves (frames of an unfinished commit) as whole', async (t) => {
    const dir = await tempDir(t);
    crashSnapshot(await tempDir(t), dir);
    const wal = path.join(dir, 'vtp.db-wal');
    const size = statSync(wal).size;
    // A frame whose header was written and its page not: the kill fell between the two writes.
    const fd = openSync(wal, 'r+');
    writeSync(fd, Buffer.alloc(FRAME_HEADER, 0x11), 0, FRAME_HEADER, size);
    closeSync(fd);
    assert.equal(checkWriteAheadLog(wal), undefined);
    assert.equal(checkWriteAheadLog(path.join(dir, 'absent-wal')), undefined);
  });

  it('names a log whose header is damaged: SQLite ignores all of it', async (t) => {
    const dir = await tempDir(t);
    crashSnapshot(await tempDir(t), dir);
    const wal = path.join(dir, 'vtp.db-wal');
    overwrite(wal, 16, Buffer.alloc(8, 0x01));
    assert.deepEqual(checkWriteAheadLog(wal), {
      reason: 'its header does not match its checksum',
      keptCommits: 0,
      lostCommits: undefined,
    });
  });
});

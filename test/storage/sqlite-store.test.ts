import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { hashPublishKey } from '../../src/storage/publish-key-hash.js';
import { SqliteStore, type SqliteStoreOptions } from '../../src/storage/sqlite-store.js';
import type { SessionRecord } from '../../src/storage/store.js';
import { StoreLockedError } from '../../src/storage/store-errors.js';
import { encoderJobRecord, sessionRecord, streamRecord, tempDir } from './store-fixtures.js';

const STORE_MODULE = pathToFileURL(path.resolve('src/storage/sqlite-store.ts')).href;

/** A store that never flushes by itself unless a test asks for a short interval. */
function openStore(file: string, options: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteStore(file, { batchIntervalMs: 60_000, onError: () => {}, ...options });
}

/** Runs `body` (ES module code with `SqliteStore` and `file` in scope) in a child Node. */
function runChild(file: string, body: string): ReturnType<typeof spawnSync> {
  const code = `const { SqliteStore } = await import(${JSON.stringify(STORE_MODULE)});
    const file = ${JSON.stringify(file)};
    ${body}`;
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('SqliteStore', () => {
  it('keeps streams, sessions, counters and encoder jobs across close and reopen', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const store = openStore(file);
    store.saveStream(streamRecord());
    store.endStream('lecture-1', 70_000);
    store.saveSession('vs-1', () => sessionRecord());
    store.raiseCounter('bytes_served_total', 123_456_789_012);
    store.saveEncoderJob(encoderJobRecord());
    store.close(); // close applies what is queued

    const reopened = openStore(file);
    t.after(() => reopened.close());
    assert.deepEqual(reopened.listStreams(), [streamRecord({ endedAt: 70_000 })]);
    assert.deepEqual(reopened.listSessions('lecture-1'), [sessionRecord()]);
    assert.deepEqual(reopened.readCounters(), { bytes_served_total: 123_456_789_012 });
    assert.deepEqual(reopened.listEncoderJobs(), [encoderJobRecord()]);
  });

  it('keeps what was flushed when the process is killed (SIGKILL, no close)', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const child = runChild(
      file,
      `const store = new SqliteStore(file, { batchIntervalMs: 60_000 });
       store.raiseCounter('segments_served_total', 41);
       store.flush();
       store.raiseCounter('segments_served_total', 42);
       store.flush();
       store.raiseCounter('segments_served_total', 99); // queued, never applied
       process.kill(process.pid, 'SIGKILL');`,
    );
    assert.equal(child.signal, 'SIGKILL', String(child.stderr));
    const store = openStore(file);
    t.after(() => store.close());
    assert.deepEqual(store.readCounters(), { segments_served_total: 42 });
  });

  it('applies queued writes after the batch interval, not before', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const store = openStore(file, { batchIntervalMs: 40 });
    t.after(() => store.close());
    store.saveStream(streamRecord());
    store.saveSession('vs-1', () => sessionRecord());
    store.raiseCounter('c', 1);
    assert.equal(store.stats().queued, 3);
    assert.equal(store.stats().flushes, 0);
    await sleep(200);
    assert.equal(store.stats().queued, 0);
    assert.equal(store.stats().flushes, 1, 'one transaction for the batch');
    assert.equal(store.stats().writesApplied, 3);
  });

  it('writes many updates of one session in a batch once, with its latest state', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const store = openStore(file);
    t.after(() => store.close());
    let snapshots = 0;
    let segments = 0;
    const snapshot = (): SessionRecord => {
      snapshots++;
      return sessionRecord({ segmentsReceived: segments });
    };
    for (let i = 0; i < 1000; i++) {
      segments++;
      store.saveSession('vs-1', snapshot);
    }
    assert.equal(store.stats().queued, 1);
    store.flush();
    assert.equal(snapshots, 1);
    assert.equal(store.stats().writesApplied, 1);
    assert.equal(store.listSessions('lecture-1')[0]?.segmentsReceived, 1000);
  });

  it('applies a full queue in the write that fills it, and drops nothing', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const store = openStore(file, { batchSize: 1000, maxQueued: 20 });
    t.after(() => store.close());
    const save = (i: number) =>
      store.saveSession(`vs-${i}`, () => sessionRecord({ sessionId: `vs-${i}`, joinSeq: i }));
    for (let i = 0; i < 19; i++) save(i);
    assert.equal(store.stats().queued, 19);
    save(19);
    assert.equal(store.stats().queued, 0, 'applied synchronously, without waiting for a timer');
    assert.equal(store.stats().flushes, 1);
    for (let i = 20; i < 25; i++) save(i);
    assert.equal(store.listSessions('lecture-1').length, 25);
  });

  it('applies a batch of batchSize writes on the next turn of the event loop', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const store = openStore(file, { batchSize: 5 });
    t.after(() => store.close());
    for (let i = 0; i < 5; i++) store.raiseCounter(`c${i}`, i);
    assert.equal(store.stats().queued, 5, 'not inside the writer');
    await nextTurn();
    assert.equal(store.stats().queued, 0, 'long before the 60 s interval');
  });

  it('keeps a batch the disk refused and writes it once space is back', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const errors: Error[] = [];
    const store = openStore(file, { onError: (e) => errors.push(e) });
    t.after(() => store.close());
    // A database capped at its current size stands in for a full disk (SQLITE_FULL).
    const db = (store as unknown as { db: Database.Database }).db;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    const big = 'x'.repeat(2000);
    for (let i = 0; i < 200; i++) {
      store.saveSession(`vs-${i}`, () =>
        sessionRecord({ sessionId: `vs-${i}`, viewerId: `${big}-${i}` }),
      );
    }
    store.flush();
    assert.equal(store.stats().queued, 200, 'nothing dropped');
    assert.equal(store.stats().failedFlushes, 1);
    assert.match(
      errors[0]?.message ?? '',
      /could not write state database .*vtp\.db.*200 writes kept/,
    );
    db.pragma('max_page_count = 1073741823');
    store.flush();
    assert.equal(store.stats().queued, 0);
    assert.equal(store.listSessions('lecture-1').length, 200);
  });

  it('reports and drops a session whose snapshot throws, and writes the rest of the batch', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const errors: Error[] = [];
    const store = openStore(file, { onError: (e) => errors.push(e) });
    t.after(() => store.close());
    store.saveSession('vs-1', () => sessionRecord());
    store.saveSession('vs-bad', () => {
      throw new Error('session gone');
    });
    store.raiseCounter('c', 7);
    store.flush();
    assert.deepEqual(
      store.listSessions('lecture-1').map((s) => s.sessionId),
      ['vs-1'],
    );
    assert.deepEqual(store.readCounters(), { c: 7 });
    assert.equal(errors.length, 1);
    assert.match(
      errors[0]?.message ?? '',
      /dropped a write \(session vs-bad\) that cannot be stored: session gone/,
    );
  });

  it('skips and reports a row whose content was damaged, and reads the others', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const store = openStore(file);
    store.saveSession('vs-1', () => sessionRecord());
    store.saveSession('vs-2', () => sessionRecord({ sessionId: 'vs-2', joinSeq: 1 }));
    store.close();
    const raw = new Database(file);
    raw.prepare("UPDATE sessions SET current_profile = 'Ultra' WHERE session_id = 'vs-1'").run();
    raw.prepare("UPDATE sessions SET bitrate_history = '{oops' WHERE session_id = 'vs-2'").run();
    raw.close();
    const errors: Error[] = [];
    const reopened = openStore(file, { onError: (e) => errors.push(e) });
    t.after(() => reopened.close());
    reopened.saveSession('vs-3', () => sessionRecord({ sessionId: 'vs-3', joinSeq: 2 }));
    assert.deepEqual(
      reopened.listSessions('lecture-1').map((s) => s.sessionId),
      ['vs-3'],
    );
    assert.deepEqual(
      errors.map((e) => e.message.replace(file, 'FILE')),
      [
        'skipped a damaged session row in FILE: current_profile is not a profile',
        'skipped a damaged session row in FILE: bitrate_history is not JSON',
      ],
    );
  });

  it('refuses a second store on the same file while the first is open, naming the file', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const first = openStore(file);
    assert.throws(
      () => openStore(file),
      (error: unknown) =>
        error instanceof StoreLockedError &&
        error.message.includes(file) &&
        /in use by another process/.test(error.message),
    );
    const child = runChild(file, 'new SqliteStore(file);');
    assert.notEqual(child.status, 0);
    assert.match(String(child.stderr), /StoreLockedError.*in use by another process/);
    first.close();
    openStore(file).close();
  });

  it('keeps encoder source URLs and publish keys out of its files in clear', async (t) => {
    const dir = await tempDir(t);
    const file = path.join(dir, 'vtp.db');
    const store = openStore(file);
    t.after(() => store.close());
    store.saveStream(streamRecord({ publishKeyHash: await hashPublishKey('lecture-key-4711') }));
    store.saveEncoderJob(encoderJobRecord());
    store.saveStreamKey('lecture-1', 'obs-stream-key-0123456789');
    store.flush();
    const onDisk = () =>
      Buffer.concat(readdirSync(dir).map((name) => readFileSync(path.join(dir, name))));
    // Checked while open (database and its write-ahead log) and after close.
    for (const check of ['open', 'closed']) {
      if (check === 'closed') store.close();
      const bytes = onDisk();
      assert.ok(bytes.includes('lecture-1'), 'the files hold the rows (the check can fail)');
      const secrets = ['lecture-key-4711', 's3cr3t-pass', 'stream-key-xyz', '10.0.0.5'];
      for (const secret of [...secrets, 'obs-stream-key-0123456789'])
        assert.equal(bytes.includes(secret), false, `${secret} found in clear (${check})`);
    }
    assert.equal(statSync(path.join(dir, 'vtp.key')).mode & 0o777, 0o600);
  });

  it('reads a source sealed with another key as undefined, and says so', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const store = openStore(file);
    store.saveEncoderJob(encoderJobRecord());
    store.close();
    const errors: Error[] = [];
    const other = openStore(file, { sealKey: randomBytes(32), onError: (e) => errors.push(e) });
    t.after(() => other.close());
    const [job] = other.listEncoderJobs();
    assert.equal(job?.jobId, 'enc-1');
    assert.equal(job?.source, undefined);
    assert.match(errors[0]?.message ?? '', /cannot be unsealed/);
  });

  it('reports a write after close once and does not throw', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const errors: Error[] = [];
    const store = openStore(file, { onError: (e) => errors.push(e) });
    store.close();
    store.raiseCounter('c', 1);
    store.saveStream(streamRecord());
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? '', /after it was closed/);
  });

  it('does not keep the process alive for queued writes', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const started = Date.now();
    const child = runChild(
      file,
      `const store = new SqliteStore(file, { batchIntervalMs: 60_000 });
       store.raiseCounter('c', 1);`,
    );
    assert.equal(child.status, 0, String(child.stderr));
    assert.ok(Date.now() - started < 15_000, 'exited without waiting for the 60 s batch timer');
  });
});

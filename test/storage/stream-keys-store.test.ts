import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { unseal } from '../../src/storage/sealed-text.js';
import { SqliteStore, type SqliteStoreOptions } from '../../src/storage/sqlite-store.js';
import { tempDir } from './store-fixtures.js';

/** Keys as StreamKeys issues them: 32 characters of base64url. */
const KEY_A = 'Zq3vN8xL1pR7tY2wK9sD4fG6hJ0mB5cE';
const KEY_B = 'uT7yH2kP9qW4eR1sA6dF3gJ8lZ0xC5vB';

/** A store that never flushes by itself: a test decides when the queue is applied. */
function openStore(file: string, options: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteStore(file, { batchIntervalMs: 60_000, onError: () => {}, ...options });
}

describe('SqliteStore stream keys', () => {
  it('keeps stream keys across close and reopen', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const store = openStore(file);
    store.saveStreamKey('lecture-1', KEY_A);
    store.saveStreamKey('lecture-2', KEY_B);
    store.deleteStreamKey('lecture-2');
    store.close(); // close applies what is queued

    const reopened = openStore(file);
    t.after(() => reopened.close());
    assert.deepEqual(reopened.listStreamKeys(), [{ recordingId: 'lecture-1', key: KEY_A }]);
  });

  it('queues key writes with the others and applies them in one flush', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const store = openStore(file);
    t.after(() => store.close());
    store.raiseCounter('c', 1);
    store.saveStreamKey('lecture-1', KEY_A);
    store.deleteStreamKey('lecture-2');
    assert.equal(store.stats().queued, 3);
    assert.equal(store.stats().flushes, 0);
    store.flush();
    assert.deepEqual(
      { queued: store.stats().queued, flushes: store.stats().flushes },
      { queued: 0, flushes: 1 },
    );
    assert.equal(store.stats().writesApplied, 3);
  });

  // Its files never hold it in clear: sqlite-store.test.ts checks that with every secret.
  it('keeps the key sealed with vtp.key', async (t) => {
    const dir = await tempDir(t);
    const file = path.join(dir, 'vtp.db');
    const store = openStore(file);
    store.saveStreamKey('lecture-1', KEY_A);
    store.close();
    const db = new Database(file, { readonly: true });
    t.after(() => db.close());
    const row = db.prepare('SELECT * FROM stream_keys').get() as Record<string, string>;
    assert.deepEqual(Object.keys(row), ['recording_id', 'key_sealed']);
    assert.equal(row.key_sealed?.includes(KEY_A), false);
    assert.equal(unseal(readFileSync(path.join(dir, 'vtp.key')), row.key_sealed ?? ''), KEY_A);
  });

  it('reads a key sealed with another vtp.key as undefined and says which stream', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const store = openStore(file);
    store.saveStreamKey('lecture-1', KEY_A);
    store.close();
    const errors: Error[] = [];
    const other = openStore(file, { sealKey: randomBytes(32), onError: (e) => errors.push(e) });
    t.after(() => other.close());
    assert.deepEqual(other.listStreamKeys(), [{ recordingId: 'lecture-1', key: undefined }]);
    assert.equal(errors.length, 1);
    assert.equal(
      errors[0]?.message,
      `the stream key of lecture-1 in ${file} cannot be unsealed (vtp.key changed?)`,
    );
    // A key sealed now opens: the store still works with its new vtp.key.
    other.saveStreamKey('lecture-1', KEY_B);
    assert.deepEqual(other.listStreamKeys(), [{ recordingId: 'lecture-1', key: KEY_B }]);
  });

  it('reads a damaged sealed key as undefined and reports it without its content', async (t) => {
    const dir = await tempDir(t);
    const file = path.join(dir, 'vtp.db');
    const store = openStore(file);
    store.saveStreamKey('lecture-1', KEY_A);
    store.saveStreamKey('lecture-2', KEY_B);
    store.close();
    const db = new Database(file);
    const { key_sealed: sealed } = db
      .prepare("SELECT key_sealed FROM stream_keys WHERE recording_id = 'lecture-1'")
      .get() as { key_sealed: string };
    // One base64 character inside the sealed bytes changed: the GCM tag no longer matches.
    const changed = sealed[10] === 'A' ? 'B' : 'A';
    const damaged = `${sealed.slice(0, 10)}${changed}${sealed.slice(11)}`;
    db.prepare("UPDATE stream_keys SET key_sealed = ? WHERE recording_id = 'lecture-1'").run(
      damaged,
    );
    db.close();

    const errors: Error[] = [];
    const reopened = openStore(file, { onError: (e) => errors.push(e) });
    t.after(() => reopened.close());
    assert.deepEqual(reopened.listStreamKeys(), [
      { recordingId: 'lecture-1', key: undefined },
      { recordingId: 'lecture-2', key: KEY_B },
    ]);
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? '', /stream key of lecture-1 .* cannot be unsealed/);
    assert.equal(errors[0]?.message.includes(damaged), false);
  });
});

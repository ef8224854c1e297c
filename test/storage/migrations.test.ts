import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS, migrate, SCHEMA_VERSION } from '../../src/storage/migrations.js';
import { streamParams } from '../../src/storage/sqlite-rows.js';
import { SqliteStore } from '../../src/storage/sqlite-store.js';
import { StoreVersionError } from '../../src/storage/store-errors.js';
import { sessionRecord, streamRecord, tempDir } from './store-fixtures.js';

function tables(db: Database.Database): string[] {
  return (
    db
      .prepare("SELECT name FROM sqlite_schema WHERE type IN ('table', 'index') ORDER BY name")
      .all() as { name: string }[]
  ).map((row) => row.name);
}

describe('migrations', () => {
  it('numbers its steps 1, 2, … in order', () => {
    assert.deepEqual(
      MIGRATIONS.map((m) => m.version),
      MIGRATIONS.map((_, i) => i + 1),
    );
    assert.equal(SCHEMA_VERSION, MIGRATIONS.length);
  });

  it('brings an empty database to the current version, and a reopen changes nothing', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const store = new SqliteStore(file);
    store.saveStream(streamRecord());
    store.close();
    const db = new Database(file);
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    const schema = tables(db);
    assert.deepEqual(schema, [
      'counters',
      'encoder_jobs',
      'sessions',
      'sessions_by_stream',
      'sqlite_autoindex_counters_1',
      'sqlite_autoindex_encoder_jobs_1',
      'sqlite_autoindex_sessions_1',
      'sqlite_autoindex_stream_keys_1',
      'sqlite_autoindex_streams_1',
      'stream_keys',
      'streams',
    ]);
    migrate(db, file); // already current: nothing to do, no error for existing tables
    assert.deepEqual(tables(db), schema);
    db.close();

    const reopened = new SqliteStore(file);
    t.after(() => reopened.close());
    assert.deepEqual(reopened.listStreams(), [streamRecord()]);
  });

  it('refuses a database from a newer build with a message naming the file and versions', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    new SqliteStore(file).close();
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(
      () => new SqliteStore(file),
      (error: unknown) =>
        error instanceof StoreVersionError &&
        error.message ===
          `state database ${file} has schema version ${SCHEMA_VERSION + 1}, newer than this build's ${SCHEMA_VERSION}: upgrade VTP Live or start with another --data-dir`,
    );
    // Refused, not touched: the newer build still finds its version.
    const after = new Database(file);
    t.after(() => after.close());
    assert.equal(after.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1);
  });

  it('leaves the database as it was when a step fails', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const db = new Database(file);
    t.after(() => db.close());
    const steps = [
      { version: 1, description: 'good', sql: 'CREATE TABLE a (x INTEGER) STRICT;' },
      { version: 2, description: 'bad', sql: 'CREATE TABLE b (x INTEGER); SELECT nope FROM a;' },
    ];
    assert.throws(() => migrate(db, file, steps), /no such column: nope/);
    assert.equal(db.pragma('user_version', { simple: true }), 0);
    assert.deepEqual(tables(db), []);
    migrate(db, file, steps.slice(0, 1));
    assert.equal(db.pragma('user_version', { simple: true }), 1);
    migrate(db, file, [
      ...steps.slice(0, 1),
      { version: 2, description: 'fixed', sql: 'CREATE TABLE b (x INTEGER) STRICT;' },
    ]);
    assert.equal(db.pragma('user_version', { simple: true }), 2);
    assert.deepEqual(tables(db), ['a', 'b']);
  });

  it('gives sessions stored before the switch count one from their history (step 2)', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const db = new Database(file);
    migrate(db, file, MIGRATIONS.slice(0, 1));
    const history = [
      { from: 'Low', to: 'Medium', at: 6_000, reason: 'adaptation' },
      { from: 'Medium', to: 'High', at: 7_000, reason: 'adaptation' },
    ];
    const old = sessionRecord({ bitrateHistory: history as never });
    // A row as version 1 wrote it: every column but switch_count.
    db.prepare(
      `INSERT INTO sessions VALUES (@sessionId, @recordingId, @incarnation, @viewerId, 0, 0, 2000,
        NULL, NULL, 9000, 'Medium', 'High', 12, 7, 7340032, 62.5, 4200.25, 2, 1, '{}', @history, '[]')`,
    ).run({ ...old, history: JSON.stringify(history) });
    db.close();

    const store = new SqliteStore(file);
    t.after(() => store.close());
    const [restored] = store.listSessions(old.recordingId);
    assert.equal(restored?.switchCount, 2);
    assert.equal(restored?.lowBufferEvents, 2);
    assert.equal(restored?.stalls, 1);
  });

  it('adds the stream keys table to a version 2 database and keeps its rows (step 3)', async (t) => {
    const file = path.join(await tempDir(t), 'vtp.db');
    const db = new Database(file);
    migrate(db, file, MIGRATIONS.slice(0, 2));
    db.prepare(
      `INSERT INTO streams VALUES (@recordingId, @incarnation, @startedAt, @endedAt, @settings,
        @publishKeyHash, @targetDurationSec, @nextSequence, @discontinuitySequences)`,
    ).run(streamParams(streamRecord()));
    assert.equal(tables(db).includes('stream_keys'), false);
    db.close();

    const store = new SqliteStore(file);
    t.after(() => store.close());
    assert.deepEqual(store.listStreams(), [streamRecord()]);
    store.saveStreamKey('lecture-1', 'key-1-0000000000000000000000000a');
    assert.deepEqual(store.listStreamKeys(), [
      { recordingId: 'lecture-1', key: 'key-1-0000000000000000000000000a' },
    ]);
  });
});

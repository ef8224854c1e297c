import type { Database } from 'better-sqlite3';
import { StoreVersionError } from './store-errors.js';

/**
 * The state database's schema, as an ordered list of steps. Step N takes a database from
 * version N-1 to N; the version lives in `PRAGMA user_version` (0 in a new file). A step, once
 * released, is never edited: a change is a new step at the end.
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'streams, viewer sessions, counters, encoder jobs',
    // STRICT tables refuse a value of the wrong type instead of storing it as given. Lists and
    // maps (settings, histories) are JSON text: they are read back whole, never queried inside.
    sql: `
      CREATE TABLE streams (
        recording_id TEXT PRIMARY KEY,
        incarnation TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        settings TEXT NOT NULL,
        publish_key_hash TEXT,
        target_duration_sec REAL,
        next_sequence INTEGER NOT NULL,
        discontinuity_sequences TEXT NOT NULL
      ) STRICT;

      CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        recording_id TEXT NOT NULL,
        incarnation TEXT NOT NULL,
        viewer_id TEXT NOT NULL,
        anonymous INTEGER NOT NULL,
        join_seq INTEGER NOT NULL,
        joined_at INTEGER NOT NULL,
        left_at INTEGER,
        leave_reason TEXT,
        last_seen_at INTEGER NOT NULL,
        current_profile TEXT NOT NULL,
        target_profile TEXT NOT NULL,
        last_sequence INTEGER NOT NULL,
        segments_received INTEGER NOT NULL,
        bytes_received INTEGER NOT NULL,
        buffer_health REAL NOT NULL,
        throughput_kbps REAL NOT NULL,
        low_buffer_events INTEGER NOT NULL,
        stalls INTEGER NOT NULL,
        profile_ms TEXT NOT NULL,
        bitrate_history TEXT NOT NULL,
        quality_history TEXT NOT NULL
      ) STRICT;
      CREATE INDEX sessions_by_stream ON sessions (recording_id, join_seq);

      CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE encoder_jobs (
        job_id TEXT PRIMARY KEY,
        recording_id TEXT NOT NULL,
        source_sealed TEXT NOT NULL,
        preset TEXT NOT NULL,
        fmp4 INTEGER NOT NULL,
        duration_sec REAL,
        state TEXT NOT NULL,
        started_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    description: 'unbounded switch count of viewer sessions',
    // Rows written before it had only the (bounded) history to count: its length is the best
    // figure they hold.
    sql: `
      ALTER TABLE sessions ADD COLUMN switch_count INTEGER NOT NULL DEFAULT 0;
      UPDATE sessions SET switch_count = json_array_length(bitrate_history);
    `,
  },
  {
    version: 3,
    description: 'stream keys of RTMP/SRT publishing',
    // Sealed (sealed-text.ts) as encoder sources are: a key lets anyone publish to its stream.
    sql: `
      CREATE TABLE stream_keys (
        recording_id TEXT PRIMARY KEY,
        key_sealed TEXT NOT NULL
      ) STRICT;
    `,
  },
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings `db` to the last version of `migrations` in one transaction: a step that fails leaves
 * the file as it was. A file from a newer build is refused, never migrated down or written.
 */
export function migrate(
  db: Database,
  file: string,
  migrations: readonly Migration[] = MIGRATIONS,
): void {
  const target = migrations.length;
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > target) throw new StoreVersionError(file, current, target);
  if (current === target) return;
  db.transaction(() => {
    for (const step of migrations.slice(current)) db.exec(step.sql);
    // user_version is in the file header, written inside the transaction like any page.
    db.pragma(`user_version = ${target}`);
  })();
}

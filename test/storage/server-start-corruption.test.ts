import assert from 'node:assert/strict';
import { once } from 'node:events';
import { closeSync, openSync, writeSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { ProfileName } from '../../src/core/profiles.js';
import { type Cli, startCli, stopCli } from '../helpers/cli.js';
import { call } from '../helpers/http.js';
import { type EncodedSegment, encodeSegments } from '../helpers/media-segments.js';
import { pushSegments } from '../helpers/push.js';
import { ALL_PROFILES } from '../helpers/segments.js';
import { waitFor } from '../helpers/wait.js';

/*
 * "A corrupt or truncated database or segment file is detected at start with a clear message,
 * and the server starts with what is intact" (README, "Data directory" and "Segments on disk"),
 * shown on the real `vtp-live serve` process: one data directory is written by a server (a live
 * stream and an ended one, real MPEG-TS segments), stopped, then copied once per kind of damage
 * and a server started on each copy.
 */

const ADMIN_TOKEN = 'corruption-admin-token';
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
const KEY = 'corruption-publish-key';
/** The stream still live when the server stops, and the one ended before (a recording). */
const LIVE = 'lecture';
const ENDED = 'seminar';
const SEGMENTS = 4;
/** The warning a stream the database lost is rebuilt from its files with. */
const REBUILT = 'stream rebuilt from its segment files (the state database had lost it)';
/** Bytes of a write-ahead log's header and of a frame's header (SQLite's file format). */
const WAL_HEADER = 32;
const FRAME_HEADER = 24;
/** The live stream's segment truncated while the server is down. */
const TRUNCATED = { profile: 'High' as ProfileName, sequence: 2 };
/** The ended recording's segment whose record (`.json`) is damaged while the server is down. */
const BAD_RECORD = { profile: 'Low' as ProfileName, sequence: 1 };

interface Entry {
  readonly sequence: number;
  /** The segment's URI without its query (a live playlist adds the session). */
  readonly uri: string;
  readonly gap: boolean;
  readonly discontinuity: boolean;
}

/** A media playlist's entries with their numbers and the tags this test looks at. */
function entriesOf(text: string): Entry[] {
  const lines = text.split('\n');
  const entries: Entry[] = [];
  let gap = false;
  let discontinuity = false;
  for (const line of lines) {
    if (line === '#EXT-X-GAP') gap = true;
    else if (line === '#EXT-X-DISCONTINUITY') discontinuity = true;
    else if (line && !line.startsWith('#')) {
      const uri = line.split('?')[0] as string;
      // Segments are named {incarnation}-{sequence}.ts: the number a gap or a jump leaves out.
      const sequence = Number(/-(\d+)\.ts$/.exec(uri)?.[1]);
      assert.ok(Number.isSafeInteger(sequence), uri);
      entries.push({ sequence, uri, gap, discontinuity });
      gap = false;
      discontinuity = false;
    }
  }
  return entries;
}

/** `/live/{id}/{profile}/` or `/vod/{id}/{profile}/`: where a rendition's files are served. */
type Base = (url: string, profile: ProfileName) => string;
const liveBase: Base = (url, profile) => `${url}/live/${LIVE}/${profile}/`;
const vodBase: Base = (url, profile) => `${url}/vod/${ENDED}/${profile}/`;
const vodOf =
  (id: string): Base =>
  (url, profile) =>
    `${url}/vod/${id}/${profile}/`;

async function playlist(base: string): Promise<Entry[]> {
  const response = await fetch(`${base}index.m3u8`);
  assert.equal(response.status, 200, `${base}index.m3u8`);
  return entriesOf(await response.text());
}

async function get(url: string): Promise<{ status: number; bytes: Buffer }> {
  const response = await fetch(url);
  return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
}

/** Every rendition's playlist entries and the bytes of each segment it lists. */
interface Served {
  readonly entries: Map<ProfileName, Entry[]>;
  /** By `{profile}/{uri}`. */
  readonly bytes: Map<string, Buffer>;
}

async function served(url: string, base: Base): Promise<Served> {
  const entries = new Map<ProfileName, Entry[]>();
  const bytes = new Map<string, Buffer>();
  for (const profile of ALL_PROFILES) {
    const listed = await playlist(base(url, profile));
    entries.set(profile, listed);
    for (const entry of listed) {
      if (entry.gap) continue;
      const got = await get(new URL(entry.uri, base(url, profile)).href);
      assert.equal(got.status, 200, entry.uri);
      bytes.set(`${profile}/${entry.uri}`, got.bytes);
    }
  }
  return { entries, bytes };
}

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** The process's JSON log lines; a line that is not JSON (a raw stack trace, say) fails. */
function logLines(cli: Cli): LogLine[] {
  return cli.output.map((line) => {
    let parsed: LogLine | undefined;
    try {
      parsed = JSON.parse(line) as LogLine;
    } catch {
      parsed = undefined;
    }
    assert.ok(parsed, `a log line that is not JSON: ${line}`);
    return parsed;
  });
}

/** Readiness and liveness answer, and the process is still running. */
async function assertUp(cli: Cli): Promise<void> {
  assert.equal((await fetch(`${cli.url}/livez`)).status, 200);
  const ready = await call(`${cli.url}/readyz`, 'GET');
  assert.equal(ready.status, 200, JSON.stringify(ready.body));
  assert.equal(ready.body.status, 'ready');
  assert.equal(cli.child.exitCode, null);
}

/** Stops the server gracefully: it must exit 0 and log nothing fatal on the way. */
async function stopCleanly(cli: Cli): Promise<void> {
  await stopCli(cli);
  assert.equal(cli.child.exitCode, 0, cli.output.join('\n'));
  assert.deepEqual(
    logLines(cli).filter((l) => l.level >= 60),
    [],
  );
}

/** Every stream the server holds, as [recording_id, status], sorted. */
async function streamStatuses(cli: Cli): Promise<[string, string][]> {
  const streams = await call(`${cli.url}/api/v1/streams`, 'GET', undefined, ADMIN);
  assert.equal(streams.status, 200);
  return (streams.body.streams as { recording_id: string; status: string }[])
    .map((s): [string, string] => [s.recording_id, s.status])
    .sort();
}

function overwrite(file: string, offset: number, bytes: Buffer): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, bytes, 0, bytes.length, offset);
  closeSync(fd);
}

/** The only incarnation directory a recording has on disk. */
async function incarnationOf(dir: string, recordingId: string): Promise<string> {
  const names = await readdir(path.join(dir, 'segments', recordingId));
  assert.equal(names.length, 1, names.join());
  return names[0] as string;
}

/**
 * The streams a data directory's database holds now, read from a copy of its files (the server
 * holds the database itself exclusively, and SQLite may replay and rewrite what it opens).
 */
async function storedStreams(dir: string): Promise<string[]> {
  const snapshot = await mkdtemp(path.join(tmpdir(), 'vtp-start-corruption-db-'));
  try {
    for (const name of ['vtp.db', 'vtp.db-wal']) {
      await cp(path.join(dir, name), path.join(snapshot, name));
    }
    const db = new Database(path.join(snapshot, 'vtp.db'));
    try {
      return db
        .prepare('SELECT recording_id FROM streams ORDER BY recording_id')
        .pluck()
        .all() as string[];
    } finally {
      db.close();
    }
  } finally {
    await rm(snapshot, { recursive: true, force: true });
  }
}

function serverArgs(dir: string): string[] {
  return ['--data-dir', dir, '--admin-token', ADMIN_TOKEN, '--retention', '600'];
}

describe('a server started on a damaged data directory', { timeout: 240_000 }, () => {
  let origin: string;
  const copies: string[] = [];
  const running: Cli[] = [];
  let media: EncodedSegment[];
  let live: Served;
  let ended: Served;
  const incarnations = new Map<string, string>();
  /** What GET /api/v1/recordings listed before the damage, by id. */
  const recordings = new Map<string, { bytes: number; status: string }>();

  before(async () => {
    media = await encodeSegments(SEGMENTS);
    assert.equal(media.length, SEGMENTS);
    origin = await mkdtemp(path.join(tmpdir(), 'vtp-start-corruption-'));
    const first = await startCli(serverArgs(origin));
    running.push(first);
    for (const id of [LIVE, ENDED]) {
      const started = await call(
        `${first.url}/api/v1/streams/start`,
        'POST',
        { recording_id: id, publish_key: KEY },
        ADMIN,
      );
      assert.equal(started.status, 201);
      for (const profile of ALL_PROFILES) {
        await pushSegments(first.url, id, profile, 0, SEGMENTS, `?key=${KEY}`, pushed());
      }
    }
    const end = await call(`${first.url}/api/v1/streams/${ENDED}/end`, 'POST', undefined, ADMIN);
    assert.equal(end.status, 200);
    live = await served(first.url, liveBase);
    ended = await served(first.url, vodBase);
    for (const entries of [...live.entries.values(), ...ended.entries.values()]) {
      assert.equal(entries.length, SEGMENTS);
    }
    const listed = await call(`${first.url}/api/v1/recordings`, 'GET');
    for (const r of listed.body.recordings as {
      recording_id: string;
      bytes: number;
      status: string;
    }[]) {
      recordings.set(r.recording_id, { bytes: r.bytes, status: r.status });
    }
    assert.equal(recordings.get(LIVE)?.status, 'recording');
    assert.equal(recordings.get(ENDED)?.status, 'complete');
    // Gracefully: the database is then whole in vtp.db (no write-ahead log left to replay), so
    // the damage below is all there is.
    await stopCleanly(first);
    for (const id of [LIVE, ENDED]) incarnations.set(id, await incarnationOf(origin, id));
  });

  after(async () => {
    for (const cli of running) await stopCli(cli);
    for (const dir of [origin, ...copies]) {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  });

  /** Pushes the real segments encoded once for every stream. */
  const pushed = () => ({
    body: (_profile: ProfileName, sequence: number) => (media[sequence] as EncodedSegment).bytes,
    duration: (sequence: number) => (media[sequence] as EncodedSegment).duration,
  });

  async function copyOfOrigin(): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), 'vtp-start-corruption-copy-'));
    copies.push(dir);
    await cp(origin, dir, { recursive: true });
    return dir;
  }

  /** A copy of the written data directory, damaged by `damage`, with a server started on it. */
  async function restartOnCopy(damage: (dir: string) => Promise<void>): Promise<{
    dir: string;
    cli: Cli;
  }> {
    const dir = await copyOfOrigin();
    await damage(dir);
    const cli = await startCli(serverArgs(dir));
    running.push(cli);
    return { dir, cli };
  }

  const DATABASE_DAMAGE: Record<string, (file: string) => Promise<void>> = {
    'truncated to half its size': async (file) =>
      truncate(file, Math.floor((await stat(file)).size / 2)),
    'overwritten with garbage at its header': async (file) =>
      overwrite(file, 0, Buffer.alloc(100, 0xa5)),
  };

  for (const [how, damage] of Object.entries(DATABASE_DAMAGE)) {
    it(`starts with the database ${how}: moves it aside, says so, and serves the recordings on disk`, async () => {
      let damaged = Buffer.alloc(0);
      const { dir, cli } = await restartOnCopy(async (dir) => {
        const file = path.join(dir, 'vtp.db');
        await damage(file);
        damaged = await readFile(file);
      });
      await assertUp(cli);
      const lines = logLines(cli);
      const file = path.join(dir, 'vtp.db');

      // One error line naming the damaged file, where it went and what is lost.
      const reports = lines.filter((l) => l.movedTo !== undefined);
      assert.equal(reports.length, 1, cli.output.join('\n'));
      const report = reports[0] as LogLine;
      assert.equal(report.level, 50);
      assert.equal(report.file, file);
      const movedTo = report.movedTo as string;
      assert.match(movedTo, /\/vtp\.db\.corrupt-\d{4}-\d\d-\d\dT[\d-]+Z$/);
      assert.equal(path.dirname(movedTo), dir);
      assert.ok(report.msg.includes(file), report.msg);
      assert.ok(report.msg.includes(movedTo), report.msg);
      assert.match(report.msg, /corrupt or truncated/);
      assert.match(
        report.msg,
        /viewer sessions, counters, encoder jobs, publish keys and stream settings it held are lost/,
      );
      assert.match(report.msg, /segment files are not, and are listed as recordings/);
      assert.match(report.msg, /their streams rebuilt from them/);
      assert.match(String(report.reason), /corrupt or truncated/);
      assert.deepEqual(await readFile(movedTo), damaged, 'kept as it was, for inspection');
      // No other error: the damage is explained once, not by a stack trace.
      assert.deepEqual(
        lines.filter((l) => l.level >= 50 && l !== report),
        [],
      );

      // The streams lived in the database, and come back from their segment files, one warning
      // each, in their own incarnations. Both were written to within the retention (600 s), so
      // both come back live: the files cannot tell that the seminar had ended minutes before
      // rather than its encoder pausing, so it is live again until the encoder timeout ends it.
      const liveInc = incarnations.get(LIVE) as string;
      const endedInc = incarnations.get(ENDED) as string;
      const rebuilt = lines.filter((l) => l.msg === REBUILT);
      assert.deepEqual(
        rebuilt.map((l) => [l.level, l.recordingId, l.incarnation, l.status, l.segments]).sort(),
        [
          [40, ENDED, endedInc, 'live', SEGMENTS * ALL_PROFILES.length],
          [40, LIVE, liveInc, 'live', SEGMENTS * ALL_PROFILES.length],
        ].sort(),
      );
      for (const line of rebuilt) {
        assert.match(String(line.publishKey), /own publish key.* is lost.*need no key now/);
      }
      assert.deepEqual(
        await streamStatuses(cli),
        [
          [ENDED, 'live'],
          [LIVE, 'live'],
        ].sort(),
      );

      // The lecture's live playlists continue where they were: the same numbers and URLs (its
      // old incarnation), nothing marked.
      for (const profile of ALL_PROFILES) {
        assert.deepEqual(await playlist(liveBase(cli.url, profile)), live.entries.get(profile));
      }
      // Its encoder pushes again (restarted, from seg_0): the stream continues after the old
      // numbers with a discontinuity, in the same incarnation; the old segments are still served.
      const more = 2;
      for (const profile of ALL_PROFILES) {
        await pushSegments(cli.url, LIVE, profile, 0, more, `?key=${KEY}`, pushed());
      }
      const continued = await served(cli.url, liveBase);
      for (const profile of ALL_PROFILES) {
        const was = live.entries.get(profile) as Entry[];
        assert.deepEqual(
          continued.entries.get(profile)?.map((e) => [e.sequence, e.uri, e.gap, e.discontinuity]),
          [
            ...was.map((e) => [e.sequence, e.uri, false, false]),
            ...Array.from({ length: more }, (_, k) => [
              SEGMENTS + k,
              `${liveInc}-${SEGMENTS + k}.ts`,
              false,
              k === 0,
            ]),
          ],
          profile,
        );
      }
      for (const [key, bytes] of live.bytes) assert.deepEqual(continued.bytes.get(key), bytes, key);
      // Its recording is the same one, grown by what was pushed, none of it replaced.
      const pushedBytes =
        ALL_PROFILES.length *
        media.slice(0, more).reduce((sum, segment) => sum + segment.bytes.length, 0);
      const growing = await call(`${cli.url}/api/v1/recordings/${LIVE}`, 'GET');
      assert.equal(growing.status, 200);
      assert.equal(growing.body.status, 'recording');
      assert.equal(growing.body.bytes, (recordings.get(LIVE)?.bytes as number) + pushedBytes);
      assert.deepEqual(
        logLines(cli).filter((l) => l.msg === 'recording removed'),
        [],
        'no recording was replaced',
      );

      // Nobody pushes to either now: the encoder timeout ends both, and each recording is
      // complete, whole and byte for byte what was accepted (the seminar's as before the damage,
      // the lecture's its old segments, then the new ones after a discontinuity).
      await waitFor(
        async () =>
          (await streamStatuses(cli)).every(([, status]) => status === 'ended') ? true : undefined,
        60_000,
        'both rebuilt streams ended by the encoder timeout',
      );
      const listed = await call(`${cli.url}/api/v1/recordings`, 'GET');
      assert.equal(listed.status, 200);
      const byId = new Map(
        (listed.body.recordings as { recording_id: string; bytes: number; status: string }[]).map(
          (r) => [r.recording_id, r],
        ),
      );
      assert.deepEqual([...byId.keys()].sort(), [ENDED, LIVE].sort());
      assert.equal(byId.get(ENDED)?.bytes, recordings.get(ENDED)?.bytes);
      assert.equal(byId.get(LIVE)?.bytes, (recordings.get(LIVE)?.bytes as number) + pushedBytes);
      for (const id of [ENDED, LIVE]) assert.equal(byId.get(id)?.status, 'complete', id);
      const vodEnded = await served(cli.url, vodBase);
      assert.deepEqual(vodEnded.entries, ended.entries);
      assert.deepEqual(vodEnded.bytes, ended.bytes);
      const vodLive = await served(cli.url, vodOf(LIVE));
      for (const profile of ALL_PROFILES) {
        assert.deepEqual(
          vodLive.entries.get(profile)?.map((e) => [e.sequence, e.uri, e.discontinuity]),
          continued.entries.get(profile)?.map((e) => [e.sequence, e.uri, e.discontinuity]),
          profile,
        );
      }
      for (const [key, bytes] of live.bytes) assert.deepEqual(vodLive.bytes.get(key), bytes, key);
      for (const profile of ALL_PROFILES) {
        for (let k = 0; k < more; k++) {
          assert.deepEqual(
            new Uint8Array(vodLive.bytes.get(`${profile}/${liveInc}-${SEGMENTS + k}.ts`) ?? []),
            (media[k] as EncodedSegment).bytes,
          );
        }
      }
      assert.deepEqual(
        logLines(cli).filter((l) => l.msg === 'recording removed'),
        [],
        'no recording was replaced',
      );

      // The new database works: the rebuilt streams and a stream started now survive the next
      // restart, which restores them from their rows and rebuilds nothing.
      const started = await call(
        `${cli.url}/api/v1/streams/start`,
        'POST',
        { recording_id: 'after-recovery' },
        ADMIN,
      );
      assert.equal(started.status, 201);
      await stopCleanly(cli);
      const again = await startCli(serverArgs(dir));
      running.push(again);
      await assertUp(again);
      assert.deepEqual(
        await streamStatuses(again),
        [
          ['after-recovery', 'live'],
          [LIVE, 'ended'],
          [ENDED, 'ended'],
        ].sort(),
      );
      assert.equal(
        logLines(again).filter((l) => l.movedTo !== undefined).length,
        0,
        'a healthy database is opened as it is',
      );
      assert.equal(logLines(again).filter((l) => l.msg === REBUILT).length, 0);
      await stopCleanly(again);
    });
  }

  it('starts with a truncated segment and a damaged record: quarantines both, says so, serves the rest', async () => {
    const liveInc = incarnations.get(LIVE) as string;
    const endedInc = incarnations.get(ENDED) as string;
    const truncatedName = `${liveInc}-${TRUNCATED.sequence}.ts`;
    const badRecordName = `${endedInc}-${BAD_RECORD.sequence}.ts`;
    const truncatedRel = path.join('segments', LIVE, liveInc, TRUNCATED.profile, truncatedName);
    const badRecordRel = path.join('segments', ENDED, endedInc, BAD_RECORD.profile, badRecordName);
    let truncatedBytes = Buffer.alloc(0);
    let originalSize = 0;
    let damagedRecord = '';
    const { dir, cli } = await restartOnCopy(async (dir) => {
      const segment = path.join(dir, truncatedRel);
      originalSize = (await stat(segment)).size;
      await truncate(segment, Math.floor(originalSize / 2));
      truncatedBytes = await readFile(segment);
      // A record that still parses as JSON but says something else than was written.
      const record = `${path.join(dir, badRecordRel)}.json`;
      const text = await readFile(record, 'utf8');
      damagedRecord = text.replace(/"durationSec":[\d.]+/, '"durationSec":9');
      assert.notEqual(damagedRecord, text);
      await writeFile(record, damagedRecord);
    });
    await assertUp(cli);
    const lines = logLines(cli);
    const problems = lines.filter((l) => l.action !== undefined);
    assert.equal(problems.length, 2, cli.output.join('\n'));

    // Each damaged file: one warning naming it, why, and where it was moved.
    const truncatedTo = path.join('quarantine', LIVE, liveInc, TRUNCATED.profile, truncatedName);
    const badRecordTo = path.join('quarantine', ENDED, endedInc, BAD_RECORD.profile, badRecordName);
    const expected = [
      {
        path: truncatedRel,
        reason: `truncated: ${truncatedBytes.length} of ${originalSize} bytes`,
        to: truncatedTo,
      },
      { path: badRecordRel, reason: 'record does not match its check', to: badRecordTo },
    ];
    for (const { path: rel, reason, to } of expected) {
      const line = problems.find((l) => l.path === rel);
      assert.ok(line, `no line for ${rel}: ${cli.output.join('\n')}`);
      assert.equal(line.level, 40);
      assert.equal(line.action, 'quarantined');
      assert.ok(String(line.reason).includes(reason), String(line.reason));
      assert.ok(line.msg.includes(rel), line.msg);
      assert.ok(line.msg.includes(reason), line.msg);
      assert.ok(line.msg.includes(`moved to ${to}`), line.msg);
    }
    assert.deepEqual(await readFile(path.join(dir, truncatedTo)), truncatedBytes);
    assert.equal(await readFile(path.join(dir, `${badRecordTo}.json`), 'utf8'), damagedRecord);
    const scanned = lines.find((l) => l.msg === 'segment files scanned');
    assert.equal(scanned?.problems, 2);
    // The database is intact and holds both streams: nothing is rebuilt from files.
    assert.equal(lines.filter((l) => l.msg === REBUILT).length, 0);
    assert.deepEqual(
      lines.filter((l) => l.level >= 50),
      [],
    );

    // The database was intact: the live stream is live again, the ended one ended.
    const streams = await call(`${cli.url}/api/v1/streams`, 'GET', undefined, ADMIN);
    const status = new Map(
      (streams.body.streams as { recording_id: string; status: string }[]).map((s) => [
        s.recording_id,
        s.status,
      ]),
    );
    assert.equal(status.get(LIVE), 'live');
    assert.equal(status.get(ENDED), 'ended');

    // Live: the truncated segment's number is a gap; it is not served, everything else is, as before.
    const liveNow = await served(cli.url, liveBase);
    for (const profile of ALL_PROFILES) {
      const was = live.entries.get(profile) as Entry[];
      const now = liveNow.entries.get(profile) as Entry[];
      const damaged = profile === TRUNCATED.profile;
      assert.deepEqual(
        now.map((e) => [e.sequence, e.uri, e.gap]),
        was.map((e) => [e.sequence, e.uri, damaged && e.sequence === TRUNCATED.sequence]),
        profile,
      );
    }
    const gap = await get(new URL(truncatedName, liveBase(cli.url, TRUNCATED.profile)).href);
    assert.equal(gap.status, 404);
    assert.equal(liveNow.bytes.size, live.bytes.size - 1);
    for (const [key, bytes] of liveNow.bytes) assert.deepEqual(bytes, live.bytes.get(key), key);

    // The recording: the segment whose record is damaged is left out (the timeline breaks
    // there) and is not served; every other file is, byte for byte.
    const endedNow = await served(cli.url, vodBase);
    for (const profile of ALL_PROFILES) {
      const was = ended.entries.get(profile) as Entry[];
      const now = endedNow.entries.get(profile) as Entry[];
      if (profile !== BAD_RECORD.profile) {
        assert.deepEqual(now, was, profile);
        continue;
      }
      assert.deepEqual(
        now.map((e) => [e.sequence, e.uri, e.discontinuity]),
        was
          .filter((e) => e.sequence !== BAD_RECORD.sequence)
          .map((e) => [e.sequence, e.uri, e.sequence === BAD_RECORD.sequence + 1]),
      );
    }
    const missing = await get(new URL(badRecordName, vodBase(cli.url, BAD_RECORD.profile)).href);
    assert.equal(missing.status, 404);
    assert.equal(endedNow.bytes.size, ended.bytes.size - 1);
    for (const [key, bytes] of endedNow.bytes) assert.deepEqual(bytes, ended.bytes.get(key), key);
    await stopCleanly(cli);
  });

  it('starts after a SIGKILL with its write-ahead log damaged: names it, keeps a copy, starts with the commits before the damage', async () => {
    // A server on a copy starts a third stream and is killed: its state is in vtp.db-wal only.
    const dir = await copyOfOrigin();
    const killed = await startCli(serverArgs(dir));
    running.push(killed);
    const started = await call(
      `${killed.url}/api/v1/streams/start`,
      'POST',
      { recording_id: 'third', publish_key: KEY },
      ADMIN,
    );
    assert.equal(started.status, 201);
    await pushSegments(killed.url, 'third', 'Low', 0, SEGMENTS, `?key=${KEY}`, pushed());
    // Killed once the recorder has committed the third stream (to the log: nothing checkpoints
    // so few pages), so the log holds it and the damage below loses it.
    await waitFor(
      async () => ((await storedStreams(dir)).includes('third') ? true : undefined),
      30_000,
      'the third stream in the database',
    );
    const exited = once(killed.child, 'exit');
    killed.child.kill('SIGKILL');
    await exited;
    const wal = path.join(dir, 'vtp.db-wal');
    assert.deepEqual(await storedStreams(dir), [LIVE, ENDED, 'third'].sort());
    // Garbage over the page of its first frame: every commit in it is after the damage.
    overwrite(wal, WAL_HEADER + FRAME_HEADER + 100, Buffer.alloc(64, 0xab));
    const damaged = await readFile(wal);

    const cli = await startCli(serverArgs(dir));
    running.push(cli);
    await assertUp(cli);
    const lines = logLines(cli);
    const reports = lines.filter((l) => l.copiedTo !== undefined);
    assert.equal(reports.length, 1, cli.output.join('\n'));
    const report = reports[0] as LogLine;
    assert.equal(report.level, 50);
    assert.equal(report.file, wal);
    const copiedTo = report.copiedTo as string;
    assert.match(copiedTo, /\/vtp\.db-wal\.corrupt-\d{4}-\d\d-\d\dT[\d-]+Z$/);
    assert.equal(path.dirname(copiedTo), dir);
    assert.ok(report.msg.includes(wal), report.msg);
    assert.ok(report.msg.includes(copiedTo), report.msg);
    assert.match(
      report.msg,
      /frame 1 of \d+ does not match its checksum; SQLite replays the 0 commits/,
    );
    assert.equal(report.keptCommits, 0);
    assert.ok((report.lostCommits as number) > 0, String(report.lostCommits));
    assert.deepEqual(await readFile(copiedTo), damaged, 'kept as it was, for inspection');
    assert.deepEqual(
      lines.filter((l) => l.level >= 50 && l !== report),
      [],
    );

    // What the first server wrote to vtp.db when it stopped is intact and comes back. The
    // third stream, committed only in the damaged log, is lost with it and rebuilt from its
    // segment files: written seconds ago, it is live again in its own incarnation; nobody pushes,
    // so the encoder timeout ends it, and its recording plays whole.
    const thirdInc = await incarnationOf(dir, 'third');
    assert.deepEqual(
      lines
        .filter((l) => l.msg === REBUILT)
        .map((l) => [l.level, l.recordingId, l.incarnation, l.status, l.segments]),
      [[40, 'third', thirdInc, 'live', SEGMENTS]],
    );
    assert.deepEqual(
      await streamStatuses(cli),
      [
        [LIVE, 'live'],
        [ENDED, 'ended'],
        ['third', 'live'],
      ].sort(),
    );
    assert.equal(
      (await call(`${cli.url}/api/v1/recordings/third`, 'GET')).body.status,
      'recording',
    );
    await waitFor(
      async () => (new Map(await streamStatuses(cli)).get('third') === 'ended' ? true : undefined),
      60_000,
      'the rebuilt third stream ended by the encoder timeout',
    );
    const third = await call(`${cli.url}/api/v1/recordings/third`, 'GET');
    assert.equal(third.status, 200);
    assert.equal(third.body.status, 'complete');
    const vod = await playlist(vodOf('third')(cli.url, 'Low'));
    assert.deepEqual(
      vod.map((e) => e.sequence),
      media.map((_, i) => i),
    );
    for (const entry of vod) {
      const got = await get(new URL(entry.uri, vodOf('third')(cli.url, 'Low')).href);
      assert.equal(got.status, 200, entry.uri);
      assert.deepEqual(new Uint8Array(got.bytes), (media[entry.sequence] as EncodedSegment).bytes);
    }
    await stopCleanly(cli);
  });
});

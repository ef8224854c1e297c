import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROFILE_NAMES, type ProfileName } from '../../src/core/profiles.js';
import { segmentFileName } from '../../src/core/segment.js';
import { ATTENDANCE_CSV_HEADER } from '../../src/service/attendance-csv.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { fakeSegment, pushSegments } from '../helpers/push.js';
import { waitFor } from '../helpers/wait.js';

const ADMIN = { authorization: 'Bearer admin-secret' };
const STREAM = 'attended';
/** The pushed segments' duration: watch time may be off by up to one. */
const SEGMENT_SEC = 2;

let server: TestServer;
let dataDir: string;

function reportUrl(id = STREAM): string {
  return `${server.url}/api/v1/streams/${id}/report`;
}

/** Fetches segment `n` of a rendition as a player would, with `query`; returns its size. */
async function fetchSegment(profile: ProfileName, n: number, query: string): Promise<number> {
  const incarnation = server.service.getDistributor(STREAM).incarnation;
  const file = segmentFileName(incarnation, n, false);
  const res = await fetch(`${server.url}/live/${STREAM}/${profile}/${file}?${query}`);
  assert.equal(res.status, 200, `${profile} segment ${n}`);
  return (await res.arrayBuffer()).byteLength;
}

function size(profile: ProfileName, n: number): number {
  return fakeSegment(profile, n).byteLength;
}

/** CMCD in its query form, as hls.js sends it. */
function cmcd(session: string, fields: string): string {
  return `session=${session}&CMCD=${encodeURIComponent(fields)}`;
}

/** A report row per viewer id. */
function rows(report: any): Map<string, any> {
  return new Map(report.viewers.map((row: any) => [row.viewer_id, row]));
}

/** What the CSV should hold in `column` for a JSON row. */
function expectedCell(row: any, column: string): string {
  const [kind, profile] = column.split('_') as [string, ProfileName];
  let value: unknown = row[column];
  if (kind === 'seconds' && PROFILE_NAMES.includes(profile))
    value = row.seconds_per_profile[profile];
  if (kind === 'share' && PROFILE_NAMES.includes(profile)) value = row.profile_share[profile];
  return value === null ? '' : String(value);
}

before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'vtp-report-'));
  server = await startTestServer({}, 200, { adminToken: 'admin-secret', dataDir });
});

after(async () => {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('attendance report', () => {
  /** What the clients did, to hold the report against. */
  const did = {
    alice: { bytes: 0, segments: 0, joinedAt: 0, switchedAt: 0, lastAt: 0 },
    anon: { bytes: 0, segments: 0, startedAt: 0, lastAt: 0 },
    carol: { bytes: 0, segments: 0 },
  };
  let aliceSession = '';

  before(async () => {
    const started = await call(
      `${server.url}/api/v1/streams/start`,
      'POST',
      { recording_id: STREAM, max_viewers: 10 },
      ADMIN,
    );
    assert.equal(started.status, 201);
    for (const profile of ['Low', 'High'] as const)
      await pushSegments(server.url, STREAM, profile, 0, 8);

    // Alice joins through the API at High, watches three High segments, then her player
    // moves to Low (an observed switch) for two more, and she leaves.
    did.alice.joinedAt = Date.now();
    const joined = await call(
      `${server.url}/api/v1/streams/${STREAM}`,
      'POST',
      { viewer_id: 'alice', initial_bitrate: 'High' },
      ADMIN,
    );
    assert.equal(joined.status, 201);
    aliceSession = joined.body.session_id;
    // Segments a player fetches 300 ms apart, so the time at each profile is measurable.
    const watch: [ProfileName, number][] = [
      ['High', 2],
      ['High', 3],
      ['High', 4],
      ['Low', 5],
      ['Low', 6],
    ];
    for (const [i, [profile, n]] of watch.entries()) {
      if (i > 0) await sleep(300);
      if (profile === 'Low' && did.alice.switchedAt === 0) did.alice.switchedAt = Date.now();
      did.alice.bytes += await fetchSegment(profile, n, `session=${aliceSession}`);
      did.alice.segments++;
    }
    did.alice.lastAt = Date.now();
    const left = await call(
      `${server.url}/api/v1/streams/${STREAM}?viewer_id=alice`,
      'DELETE',
      undefined,
      { authorization: `Bearer ${aliceSession}` },
    );
    assert.equal(left.status, 200);

    // An anonymous player: the master playlist gives it a session, its first segment a seat.
    did.anon.startedAt = Date.now();
    const master = await fetch(`${server.url}/live/${STREAM}/master.m3u8`);
    assert.equal(master.status, 200);
    await master.text();
    const anonSession = master.headers.get('x-vtp-session') ?? '';
    assert.ok(anonSession, 'the anonymous player got a session');
    for (const n of [5, 6, 7]) {
      did.anon.bytes += await fetchSegment('Low', n, `session=${anonSession}`);
      did.anon.segments++;
    }
    did.anon.lastAt = Date.now();

    // Carol's player reports its buffer with CMCD: healthy, starved twice in a row (one
    // stall, one low-buffer event), healthy again, starved once more.
    const carol = await call(
      `${server.url}/api/v1/streams/${STREAM}`,
      'POST',
      { viewer_id: 'carol', initial_bitrate: 'Low' },
      ADMIN,
    );
    const carolSession = carol.body.session_id;
    const reports = ['bl=5000', 'bl=500,bs', 'bl=400,bs', 'bl=6000', 'bl=300,bs', 'bl=5500'];
    for (const [i, fields] of reports.entries()) {
      did.carol.bytes += await fetchSegment('Low', i + 1, cmcd(carolSession, fields));
      did.carol.segments++;
    }

    // Segments are counted once their response is sent, which the client may see first.
    await waitFor(
      async () => {
        const report = (await call(reportUrl(), 'GET', undefined, ADMIN)).body;
        const all = rows(report);
        return all.get('carol')?.segments_received === did.carol.segments &&
          [...all.values()].some((row) => row.anonymous && row.segments_received === 3)
          ? true
          : undefined;
      },
      5000,
      'every fetched segment counted',
      20,
    );
    const ended = await call(
      `${server.url}/api/v1/streams/${STREAM}/end`,
      'POST',
      undefined,
      ADMIN,
    );
    assert.equal(ended.status, 200);
  });

  it('reports what each client did: bytes and segments exact, watch time within a segment', async () => {
    const res = await call(reportUrl(), 'GET', undefined, ADMIN);
    assert.equal(res.status, 200);
    const report = res.body;
    assert.equal(report.recording_id, STREAM);
    assert.notEqual(report.ended_at, null, 'the stream ended');
    const all = rows(report);
    assert.equal(report.viewers.length, 3);

    const alice = all.get('alice');
    assert.equal(alice.anonymous, false);
    assert.equal(alice.leave_reason, 'left');
    assert.equal(alice.segments_received, did.alice.segments);
    assert.equal(alice.bytes_received, did.alice.bytes);
    assert.equal(
      alice.bytes_received,
      [2, 3, 4].reduce((sum, n) => sum + size('High', n), 0) + size('Low', 5) + size('Low', 6),
    );
    const aliceWatched = (did.alice.lastAt - did.alice.joinedAt) / 1000;
    assert.ok(
      Math.abs(alice.watch_seconds - aliceWatched) <= SEGMENT_SEC,
      `watch ${alice.watch_seconds} s, client saw ${aliceWatched} s`,
    );
    assert.equal(alice.switches, 1, 'High to Low, seen in what her player fetched');
    const highShare =
      (did.alice.switchedAt - did.alice.joinedAt) / (did.alice.lastAt - did.alice.joinedAt);
    assert.ok(
      Math.abs(alice.profile_share.High - highShare) < 0.15,
      `High share ${alice.profile_share.High}, client ${highShare.toFixed(3)}`,
    );
    assert.ok(Math.abs(alice.profile_share.High + alice.profile_share.Low - 1) < 0.001);
    const profileSeconds = PROFILE_NAMES.reduce((sum, p) => sum + alice.seconds_per_profile[p], 0);
    assert.ok(
      Math.abs(profileSeconds - alice.watch_seconds) < 0.01,
      'the time at each profile adds up to the watch time',
    );
    assert.equal(alice.low_buffer_events, 0);
    assert.equal(alice.stalls, 0);

    const anon = report.viewers.find((row: any) => row.anonymous);
    assert.ok(anon, 'the anonymous player has a row');
    assert.equal(anon.segments_received, 3);
    assert.equal(anon.bytes_received, did.anon.bytes);
    assert.equal(anon.bytes_received, size('Low', 5) + size('Low', 6) + size('Low', 7));
    assert.ok(anon.watch_seconds <= (did.anon.lastAt - did.anon.startedAt) / 1000 + SEGMENT_SEC);
    assert.equal(anon.profile_share.Low, 1);

    const carol = all.get('carol');
    assert.equal(carol.segments_received, did.carol.segments);
    assert.equal(carol.bytes_received, did.carol.bytes);
    assert.equal(carol.low_buffer_events, 2, 'counted as the buffer fell under 20, not per report');
    assert.equal(carol.stalls, 2, 'two runs of requests carrying bs');

    assert.equal(report.summary.viewers, 3);
    assert.equal(report.summary.joins, 3);
    assert.equal(report.summary.low_buffer_events, 2);
    assert.equal(report.summary.stalls, 2);
    assert.ok(report.summary.peak_viewers >= 2);
  });

  it('gives the same rows as CSV with Accept: text/csv, as a download', async () => {
    const json = (await call(reportUrl(), 'GET', undefined, ADMIN)).body;
    const res = await fetch(reportUrl(), { headers: { ...ADMIN, accept: 'text/csv' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.equal(
      res.headers.get('content-disposition'),
      `attachment; filename="attendance-${STREAM}.csv"`,
    );
    const lines = (await res.text()).split('\r\n').filter((line) => line !== '');
    assert.deepEqual(lines[0]?.split(','), [...ATTENDANCE_CSV_HEADER]);
    const csvRows = lines.slice(1).map((line) => line.split(','));
    assert.equal(csvRows.length, json.viewers.length);
    for (const [i, row] of json.viewers.entries()) {
      assert.deepEqual(
        csvRows[i],
        ATTENDANCE_CSV_HEADER.map((column) => expectedCell(row, column)),
        `row of ${row.viewer_id}`,
      );
    }
  });

  it('answers JSON to a client that accepts anything', async () => {
    const res = await fetch(reportUrl(), { headers: { ...ADMIN, accept: '*/*' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal((await res.json()).recording_id, STREAM);
  });

  it('needs the admin token when one is set: 401 without a token, 403 with a viewer session', async () => {
    const anonymous = await call(reportUrl(), 'GET');
    assert.equal(anonymous.status, 401);
    const asViewer = await call(reportUrl(), 'GET', undefined, {
      authorization: `Bearer ${aliceSession}`,
    });
    assert.equal(asViewer.status, 403, "a viewer's session is not the admin token");
  });

  it('is a 404 for a stream the server never stored', async () => {
    const res = await call(reportUrl('never-started'), 'GET', undefined, ADMIN);
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'STREAM_NOT_FOUND');
  });

  it('still answers after a restart, from the store', async () => {
    const before = (await call(reportUrl(), 'GET', undefined, ADMIN)).body;
    await server.close();
    server = await startTestServer({}, 200, { adminToken: 'admin-secret', dataDir });
    const res = await call(reportUrl(), 'GET', undefined, ADMIN);
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.viewers.map((row: any) => [row.viewer_id, row.bytes_received, row.stalls]),
      before.viewers.map((row: any) => [row.viewer_id, row.bytes_received, row.stalls]),
    );
    assert.equal(res.body.summary.low_buffer_events, 2);
  });
});

describe('attendance report without a data directory', () => {
  it('keeps the records in memory, viewers that left included', async (t) => {
    const memory = await startTestServer();
    t.after(() => memory.close());
    await call(`${memory.url}/api/v1/streams/start`, 'POST', { recording_id: 'mem' });
    await pushSegments(memory.url, 'mem', 'Low', 0, 2);
    const joined = await call(`${memory.url}/api/v1/streams/mem`, 'POST', { viewer_id: 'dana' });
    const left = await call(
      `${memory.url}/api/v1/streams/mem?viewer_id=dana`,
      'DELETE',
      undefined,
      {
        authorization: `Bearer ${joined.body.session_id}`,
      },
    );
    assert.equal(left.status, 200);
    const res = await call(`${memory.url}/api/v1/streams/mem/report`, 'GET');
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.viewers.map((row: any) => [row.viewer_id, row.leave_reason]),
      [['dana', 'left']],
    );
  });
});

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Cli, startCli, stopCli } from '../helpers/cli.js';
import { call } from '../helpers/http.js';
import { pushSegments } from '../helpers/push.js';

const ADMIN = { authorization: 'Bearer restart-admin-token' };
const KEY = 'lecture-publish-key';
/** Longer than the recorder's interval (1 s) plus the store's write-behind (50 ms). */
const SETTLE_MS = 1500;

async function kill(cli: Cli): Promise<void> {
  const exited = once(cli.child, 'exit');
  cli.child.kill('SIGKILL');
  await exited;
}

/** Fetches the viewer's Low playlist and every segment it lists; returns the segment URIs. */
async function watch(url: string, id: string, session: string): Promise<string[]> {
  const playlist = await fetch(`${url}/live/${id}/Low/index.m3u8?session=${session}`);
  assert.equal(playlist.status, 200);
  const uris = (await playlist.text()).split('\n').filter((l) => l && !l.startsWith('#'));
  for (const uri of uris) {
    const segment = await fetch(new URL(uri, `${url}/live/${id}/Low/`));
    assert.equal(segment.status, 200);
    await segment.arrayBuffer();
  }
  return uris;
}

describe('restart recovery (SIGKILL, same data directory)', { timeout: 90_000 }, () => {
  let dir: string;
  let args: string[];
  let first: Cli;
  let second: Cli;
  const before_ = {
    session: '',
    segments: 0,
    bytes: 0,
    totalSegments: 0,
    totalBytes: 0,
    uris: [] as string[],
  };
  const after_ = { totalSegments: 0, totalBytes: 0 };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vtp-restart-'));
    args = [
      '--data-dir',
      dir,
      '--admin-token',
      'restart-admin-token',
      '--retention',
      '600',
      '--encoder-timeout',
      '120',
    ];
    first = await startCli(args);
    const u = first.url;
    const started = await call(
      `${u}/api/v1/streams/start`,
      'POST',
      { recording_id: 'lecture', max_viewers: 7, publish_key: KEY },
      ADMIN,
    );
    assert.equal(started.status, 201);
    await pushSegments(u, 'lecture', 'Low', 0, 4, `?key=${KEY}`);
    const finished = await call(
      `${u}/api/v1/streams/start`,
      'POST',
      { recording_id: 'finished' },
      ADMIN,
    );
    assert.equal(finished.status, 201);
    assert.equal(
      (await call(`${u}/api/v1/streams/finished/end`, 'POST', undefined, ADMIN)).status,
      200,
    );
    const joined = await call(`${u}/api/v1/streams/lecture`, 'POST', {
      viewer_id: 'alice',
      initial_bitrate: 'Low',
    });
    assert.equal(joined.status, 201);
    before_.session = joined.body.session_id;
    before_.uris = await watch(u, 'lecture', before_.session);
    assert.ok(before_.uris.length > 0);
    const row = await call(`${u}/api/v1/streams/lecture/viewers/alice`, 'GET', undefined, ADMIN);
    before_.segments = row.body.segments_received;
    before_.bytes = row.body.bytes_received;
    assert.ok(before_.segments > 0);
    const metrics = await call(`${u}/api/v1/distribution/metrics`, 'GET');
    before_.totalSegments = metrics.body.total_segments_served;
    before_.totalBytes = metrics.body.total_bytes_served;
    // The design promises state at most one recorder interval (plus the write-behind) old.
    await sleep(SETTLE_MS);
    await kill(first);
    second = await startCli(args);
    const resumed = await call(`${second.url}/api/v1/distribution/metrics`, 'GET');
    after_.totalSegments = resumed.body.total_segments_served;
    after_.totalBytes = resumed.body.total_bytes_served;
  });

  after(async () => {
    if (second) await stopCli(second);
    if (first && first.child.exitCode === null && first.child.signalCode === null) {
      await stopCli(first);
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('brings the live stream back live with its settings and the ended one back ended', async () => {
    const list = await call(`${second.url}/api/v1/streams`, 'GET', undefined, ADMIN);
    assert.equal(list.status, 200);
    const byId = new Map(
      (list.body.streams as { recording_id: string; status: string; max_viewers: number }[]).map(
        (s) => [s.recording_id, s],
      ),
    );
    assert.equal(byId.get('lecture')?.status, 'live');
    assert.equal(byId.get('lecture')?.max_viewers, 7);
    assert.equal(byId.get('finished')?.status, 'ended');
    const push = await fetch(`${second.url}/ingest/finished/Low/seg_0.ts`, {
      method: 'PUT',
      body: new Uint8Array(100),
    });
    assert.equal(push.status, 409);
  });

  it('refuses pushes without the stream key or with a wrong one, and takes the right one', async () => {
    const put = (query: string) =>
      fetch(`${second.url}/ingest/lecture/Low/seg_4.ts${query}`, {
        method: 'PUT',
        body: new Uint8Array(500).fill(4),
      });
    assert.equal((await put('')).status, 401);
    const wrong = await put('?key=not-the-lecture-key');
    assert.equal(wrong.status, 403);
    assert.equal((await wrong.json()).error.code, 'PUBLISH_KEY_INVALID');
    await pushSegments(second.url, 'lecture', 'Low', 4, 6, `?key=${KEY}`);
  });

  it('keeps the viewer session id valid with its counters, and continues the segment names', async () => {
    const row = await call(`${second.url}/api/v1/streams/lecture/viewers/alice`, 'GET', undefined, {
      authorization: `Bearer ${before_.session}`,
    });
    assert.equal(row.status, 200);
    assert.equal(row.body.segments_received, before_.segments);
    assert.equal(row.body.bytes_received, before_.bytes);
    // The same incarnation, and numbers after the ones already served: no URL names other bytes.
    const uris = await watch(second.url, 'lecture', before_.session);
    // Segment URIs are {incarnation}-{sequence}.ts, with the session in the query.
    const name = (uri: string) => (uri.split('?')[0] as string).split('/').pop() as string;
    const incarnation = (uri: string) => name(uri).split('-')[0];
    const number = (uri: string) => Number(name(uri).split('-')[1]?.split('.')[0]);
    assert.ok(uris.length > 0);
    // The window came back from the segment files: the URIs served before the kill are listed
    // again (same names), and what was pushed since follows them.
    const path = (uri: string) => uri.split('?')[0] as string;
    const restored = uris.filter((uri) => number(uri) <= Math.max(...before_.uris.map(number)));
    assert.deepEqual(restored.map(path), before_.uris.map(path));
    assert.ok(uris.length > restored.length);
    for (const uri of uris) {
      assert.equal(incarnation(uri), incarnation(before_.uris[0] as string));
    }
  });

  it('resumes the service totals instead of starting them at zero', async () => {
    assert.ok(before_.totalSegments > 0);
    assert.equal(after_.totalSegments, before_.totalSegments);
    assert.equal(after_.totalBytes, before_.totalBytes);
  });
});

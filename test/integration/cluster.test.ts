import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { type Cli, startCli, stopCli } from '../helpers/cli.js';
import { call } from '../helpers/http.js';
import { type RunningLadder, startLadder } from '../helpers/ladder.js';
import { type RawAnswer, rawGet } from '../helpers/raw-get.js';
import { waitFor } from '../helpers/wait.js';

/** Worker ids and pids the primary logged as listening, in order. */
function listeningWorkers(cli: Cli): { id: number; pid: number }[] {
  return cli.output.flatMap((line) => {
    if (!line.includes('HLS worker') || !line.includes('listening')) return [];
    const parsed = JSON.parse(line) as { worker?: number; pid?: number };
    return parsed.worker === undefined || parsed.pid === undefined
      ? []
      : [{ id: parsed.worker, pid: parsed.pid }];
  });
}

/** The `X-Served-By` names of the listening workers, sorted. */
function workerNames(cli: Cli): string[] {
  return listeningWorkers(cli)
    .map((w) => `worker-${w.id}`)
    .sort();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Segment URIs of a media playlist, in order. */
function segmentUris(playlist: string): string[] {
  return playlist.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

describe('vtp-live serve --processes 2 with a real ladder', { timeout: 180_000 }, () => {
  let cli: Cli;
  let origin: string;
  let ladder: RunningLadder | undefined;
  let live: string;
  /** The first anonymous session admitted. */
  let session: string;

  before(async () => {
    cli = await startCli(
      ['--processes', '2', '--anonymous-per-client', '20', '--log-level', 'info'],
      {},
      { built: true },
    );
    const listening = cli.output.map((line) => JSON.parse(line) as { origin?: string });
    origin = listening.find((line) => line.origin)?.origin as string;
    assert.ok(origin, 'the primary names its own loopback listener');
    live = `${cli.url}/live/lecture`;
    const started = await call(`${cli.url}/api/v1/streams/start`, 'POST', {
      recording_id: 'lecture',
      max_viewers: 5,
    });
    assert.equal(started.status, 201);
    ladder = startLadder(`${cli.url}/ingest/lecture`, 120);
    await waitFor(
      async () => {
        const stats = (await call(`${cli.url}/api/v1/streams/lecture`, 'GET')).body;
        return Object.values(stats.segments_available as Record<string, number>).every(
          (n) => n >= 3,
        )
          ? true
          : undefined;
      },
      45_000,
      'three segments in every rendition',
    );
  });

  after(async () => {
    await ladder?.stop();
    if (cli) await stopCli(cli);
  });

  it('two workers listen on the one public port', () => {
    assert.equal(listeningWorkers(cli).length, 2);
  });

  it('believes X-Forwarded-* on its loopback port only from its workers', async () => {
    const started = await call(`${cli.url}/api/v1/streams/start`, 'POST', {
      recording_id: 'forwarding',
    });
    assert.equal(started.status, 201);
    const claims = { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };
    // Any local process can reach the primary's port: what it claims counts for nothing.
    const direct = await call(
      `${origin}/api/v1/streams/forwarding`,
      'POST',
      { viewer_id: 'direct' },
      claims,
    );
    assert.equal(direct.status, 201, JSON.stringify(direct.body));
    assert.equal(new URL(direct.body.playback_url).origin, origin);
    // Through a worker the client's own claims are dropped too (no --trust-proxy).
    const proxied = await call(
      `${cli.url}/api/v1/streams/forwarding`,
      'POST',
      { viewer_id: 'proxied' },
      claims,
    );
    assert.equal(proxied.status, 201, JSON.stringify(proxied.body));
    assert.equal(new URL(proxied.body.playback_url).origin, cli.url);
  });

  it('renders the same media playlist on every worker as on the primary', async () => {
    const url = '/live/lecture/Low/index.m3u8';
    await waitFor(
      async () => {
        const answers = await Promise.all(
          Array.from({ length: 6 }, () => rawGet(`${cli.url}${url}`)),
        );
        const primary = await rawGet(`${origin}${url}`);
        const servedBy = new Set(answers.map((a) => a.headers['x-served-by']));
        const texts = new Set([...answers, primary].map((a) => a.body.toString()));
        // A segment published between two requests changes the playlist: ask again then.
        return servedBy.size === 2 && !servedBy.has(undefined) && texts.size === 1
          ? true
          : undefined;
      },
      20_000,
      'one playlist text from both workers and the primary',
    );
    // The same text compressed, unless a segment came in between: then ask again.
    const compressed = await waitFor(
      async () => {
        const gzipped = await rawGet(`${cli.url}${url}`, { 'accept-encoding': 'gzip, br' });
        const plain = await rawGet(`${origin}${url}`);
        if (gzipped.headers['content-encoding'] !== 'gzip') return gzipped;
        return gunzipSync(gzipped.body).toString() === plain.body.toString() ? gzipped : undefined;
      },
      20_000,
      'a compressed playlist from a worker equal to the primary’s',
    );
    assert.equal(compressed.headers['content-encoding'], 'gzip');
    assert.equal(compressed.headers.vary, 'accept-encoding');
    assert.equal(compressed.headers['cache-control'], 'public, max-age=1');
    assert.equal(compressed.headers['access-control-allow-origin'], '*');
  });

  it('serves segment bytes equal to the primary’s, with the same headers', async () => {
    const playlist = (await rawGet(`${origin}/live/lecture/Medium/index.m3u8`)).body.toString();
    const uri = segmentUris(playlist).at(-1) as string;
    const fromPrimary = await rawGet(`${origin}/live/lecture/Medium/${uri}`);
    assert.equal(fromPrimary.status, 200);
    const seen = new Set<string>();
    for (let i = 0; i < 8 && seen.size < 2; i++) {
      const answer = await rawGet(`${live}/Medium/${uri}`);
      assert.equal(answer.status, 200);
      assert.ok(answer.body.equals(fromPrimary.body), 'the same bytes');
      for (const name of [
        'etag',
        'content-type',
        'content-length',
        'cache-control',
        'accept-ranges',
        'access-control-allow-origin',
        'access-control-expose-headers',
      ]) {
        assert.equal(answer.headers[name], fromPrimary.headers[name], name);
      }
      seen.add(String(answer.headers['x-served-by']));
    }
    assert.deepEqual([...seen].sort(), workerNames(cli));
    const ranged = await rawGet(`${live}/Medium/${uri}`, { range: 'bytes=10-99' });
    assert.equal(ranged.status, 206);
    assert.ok(ranged.body.equals(fromPrimary.body.subarray(10, 100)));
    const cached = await rawGet(`${live}/Medium/${uri}`, {
      'if-none-match': String(fromPrimary.headers.etag),
    });
    assert.equal(cached.status, 304);
  });

  it('admits exactly max_viewers anonymous players across both workers', async () => {
    const masters = await Promise.all(
      Array.from({ length: 6 }, () => rawGet(`${live}/master.m3u8`)),
    );
    const sessions = masters.map((m) => {
      assert.equal(m.status, 200);
      return String(m.headers['x-vtp-session']);
    });
    assert.equal(new Set(sessions).size, 6);
    const playlist = (await rawGet(`${origin}/live/lecture/Low/index.m3u8`)).body.toString();
    const first = segmentUris(playlist).at(-1) as string;
    // Each player's first segment, on connections of their own: that is where seats are taken.
    const firsts = await Promise.all(
      sessions.map((s) => rawGet(`${live}/Low/${first}?session=${s}`)),
    );
    const statuses = firsts.map((f) => f.status).sort();
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 503]);
    const refused = firsts.find((f) => f.status === 503) as RawAnswer;
    assert.equal(JSON.parse(refused.body.toString()).error.code, 'STREAM_FULL');
    session = sessions[firsts.findIndex((f) => f.status === 200)] as string;
    const seventh = await rawGet(`${live}/master.m3u8`);
    assert.equal(seventh.status, 503);
    assert.equal(JSON.parse(seventh.body.toString()).error.code, 'STREAM_FULL');
    const stats = (await call(`${cli.url}/api/v1/streams/lecture`, 'GET')).body;
    assert.equal(stats.active_viewers, 5);
  });

  it('renders the same multivariant playlist for a seated session on both workers', async () => {
    const url = `/live/lecture/master.m3u8?session=${session}`;
    const primary = await rawGet(`${origin}${url}`);
    assert.equal(primary.status, 200);
    assert.equal(primary.headers['x-vtp-session'], session);
    assert.equal((primary.body.toString().match(/CODECS=/g) ?? []).length, 4);
    const servedBy = new Set<string>();
    for (let i = 0; i < 8 && servedBy.size < 2; i++) {
      const answer = await rawGet(`${cli.url}${url}`);
      assert.equal(answer.body.toString(), primary.body.toString());
      assert.equal(answer.headers['x-vtp-session'], session);
      assert.equal(answer.headers['cache-control'], 'private, no-store');
      servedBy.add(String(answer.headers['x-served-by']));
    }
    assert.deepEqual([...servedBy].sort(), workerNames(cli));
  });

  it('counts a session whose requests land on both workers exactly once each', async () => {
    const auth = { authorization: `Bearer ${session}` };
    const row = async () => {
      const stats = await call(`${cli.url}/api/v1/streams/lecture`, 'GET', undefined, auth);
      assert.equal(stats.status, 200);
      assert.equal(stats.body.viewers.length, 1);
      return stats.body.viewers[0] as { segments_received: number; bytes_received: number };
    };
    const before = await row();
    const playlist = await rawGet(`${live}/Low/index.m3u8?session=${session}`);
    const uris = segmentUris(playlist.body.toString()).slice(-3);
    assert.ok(
      uris.every((u) => u.endsWith(`?session=${session}`)),
      'segment URIs carry the session',
    );
    const servedBy = new Set<string>();
    let segments = 0;
    let bytes = 0;
    for (let round = 0; round < 6 && (round < 2 || servedBy.size < 2); round++) {
      for (const uri of uris) {
        const answer = await rawGet(`${live}/Low/${uri}`);
        assert.equal(answer.status, 200);
        servedBy.add(String(answer.headers['x-served-by']));
        segments++;
        bytes += answer.body.byteLength;
      }
    }
    assert.ok(servedBy.has('worker-1') && servedBy.has('worker-2'), [...servedBy].join());
    const after = await row();
    assert.equal(after.segments_received - before.segments_received, segments);
    assert.equal(after.bytes_received - before.bytes_received, bytes);
  });

  it('a worker killed with SIGKILL loses no session, and a new worker serves it', async () => {
    const [victim, survivor] = listeningWorkers(cli) as [
      { id: number; pid: number },
      { id: number; pid: number },
    ];
    process.kill(victim.pid, 'SIGKILL');
    const replacement = await waitFor(
      async () => listeningWorkers(cli).find((w) => w.id !== victim.id && w.id !== survivor.id),
      30_000,
      'a replacement worker listening',
    );
    const auth = { authorization: `Bearer ${session}` };
    const stats = await call(`${cli.url}/api/v1/streams/lecture`, 'GET', undefined, auth);
    assert.equal(stats.status, 200);
    assert.equal(stats.body.viewers.length, 1, 'the session is still seated');
    assert.equal(stats.body.active_viewers, 5);
    const playlist = await rawGet(`${live}/Low/index.m3u8?session=${session}`);
    const uri = segmentUris(playlist.body.toString()).at(-1) as string;
    // Any answer but a 200 ends the wait (waitFor takes a thrown assertion for "not yet").
    const answer = await waitFor(
      async () => {
        const answer = await rawGet(`${live}/Low/${uri}`);
        return answer.status !== 200 || answer.headers['x-served-by'] === `worker-${replacement.id}`
          ? answer
          : undefined;
      },
      10_000,
      'the replacement serving the session',
      0,
    );
    assert.equal(answer.status, 200, answer.body.toString());
  });

  it('SIGTERM stops the workers and the primary, which exits 0', async () => {
    const workers = listeningWorkers(cli).filter((w) => alive(w.pid));
    assert.equal(workers.length, 2);
    await ladder?.stop();
    await stopCli(cli);
    assert.equal(cli.child.exitCode, 0);
    await waitFor(
      async () => (workers.every((w) => !alive(w.pid)) ? true : undefined),
      5000,
      'every worker gone',
    );
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import HLS from 'hls-parser';
import { SignJWT } from 'jose';
import { watchHls } from '../../src/demo/hls-viewer.js';
import { PlaybackTokens } from '../../src/service/playback-tokens.js';
import { run } from '../helpers/exec.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { pushSegments } from '../helpers/push.js';

type MasterPlaylist = InstanceType<typeof HLS.types.MasterPlaylist>;

const SECRET = 'playback-secret-of-24-chars';
const ADMIN_TOKEN = 'admin-token-of-20-chars';
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
const tokens = new PlaybackTokens(SECRET);

let server: TestServer;
let live: string;
let api: string;

async function sign(claims: Record<string, unknown>, secret = SECRET, exp = '1h'): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret));
}

before(async () => {
  server = await startTestServer({}, 200, { adminToken: ADMIN_TOKEN, playbackSecret: SECRET });
  live = `${server.url}/live/lecture`;
  api = `${server.url}/api/v1`;
  await call(`${api}/streams/start`, 'POST', { recording_id: 'lecture' }, ADMIN);
  await call(`${api}/streams/start`, 'POST', { recording_id: 'other' }, ADMIN);
  for (const profile of ['VeryLow', 'Low'] as const)
    await pushSegments(server.url, 'lecture', profile, 0, 4);
});
after(() => server.close());

describe('signed playback tokens', () => {
  it('refuses playlists without a token (401) or with a token that is not valid for the stream (403)', async () => {
    const none = await fetch(`${live}/master.m3u8`);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as any).error.code, 'PLAYBACK_TOKEN_REQUIRED');
    const bad: Array<[string, string]> = [
      ['garbage', 'not-a-jwt'],
      ['another stream', await tokens.issue('other')],
      ['another secret', await sign({ stream: 'lecture' }, 'some-other-secret-of-24ch')],
      ['expired', await sign({ stream: 'lecture' }, SECRET, '-1s')],
      ['no stream claim', await sign({ viewer: 'ada' })],
      [
        'unsigned (alg none)',
        'eyJhbGciOiJub25lIn0.eyJzdHJlYW0iOiJsZWN0dXJlIiwiZXhwIjo0MTAyNDQ0ODAwfQ.',
      ],
    ];
    for (const [what, token] of bad) {
      for (const path of ['master.m3u8', 'Low/index.m3u8']) {
        const res = await fetch(`${live}/${path}?token=${encodeURIComponent(token)}`);
        assert.equal(res.status, 403, `${what} on ${path}`);
        assert.equal(((await res.json()) as any).error.field, 'token');
      }
    }
  });

  it('keeps a player without a token from starting', async () => {
    await assert.rejects(
      watchHls({ masterUrl: `${live}/master.m3u8`, profile: 'Low', seconds: 2 }),
      /401/,
    );
    const probe = await run('ffprobe', ['-v', 'error', `${live}/master.m3u8`]);
    assert.notEqual(probe.code, 0);
    assert.match(probe.stderr, /401/);
  });

  it('joins only with a token for the stream, and hands back a ready playback URL that plays', async () => {
    const refused = await call(`${api}/streams/lecture`, 'POST', { viewer_id: 'ada' });
    assert.equal(refused.status, 401);
    const token = await tokens.issue('lecture', 'ada');
    const wrongViewer = await call(`${api}/streams/lecture?token=${token}`, 'POST', {
      viewer_id: 'bob',
    });
    assert.equal(wrongViewer.status, 403);
    const joined = await call(`${api}/streams/lecture?token=${token}`, 'POST', {
      viewer_id: 'ada',
    });
    assert.equal(joined.status, 201);
    const url = new URL(joined.body.playback_url);
    assert.equal(url.origin, server.url);
    assert.equal(url.searchParams.get('session'), joined.body.session_id);
    assert.ok(url.searchParams.get('token'));
    const master = HLS.parse(await (await fetch(url)).text()) as MasterPlaylist;
    for (const variant of master.variants)
      assert.match(variant.uri, /[?&]token=/, 'variant URIs keep the token');
    const played = await watchHls({ masterUrl: url.href, profile: 'Low', seconds: 1 });
    assert.equal(played.sessionId, joined.body.session_id);
    assert.ok(played.segments >= 3);
    // Segment URIs carry no token: a CDN keeps one copy for everyone.
    const media = await (await fetch(new URL(master.variants[0]?.uri ?? '', url))).text();
    assert.doesNotMatch(media, /token=/);
  });

  it('refuses a token that names another viewer than the session it is used with', async () => {
    const ada = await call(`${api}/streams/lecture`, 'POST', { viewer_id: 'ada-2' }, ADMIN);
    const bobsToken = await tokens.issue('lecture', 'bob');
    const res = await fetch(
      `${live}/master.m3u8?session=${ada.body.session_id}&token=${bobsToken}`,
    );
    assert.equal(res.status, 403);
  });

  it('mints tokens from the command line with the secret from the environment', async () => {
    const cli = await run(
      'node',
      ['--import', 'tsx', 'src/cli.ts', 'token', '--stream', 'lecture'],
      30_000,
      {
        ...process.env,
        VTP_PLAYBACK_SECRET: SECRET,
      },
    );
    assert.equal(cli.code, 0, cli.stderr);
    const res = await fetch(`${live}/master.m3u8?token=${cli.stdout.trim()}`);
    assert.equal(res.status, 200);
    await res.text();
    const short = await run(
      'node',
      ['--import', 'tsx', 'src/cli.ts', 'token', '--stream', 'x'],
      30_000,
      {
        ...process.env,
        VTP_PLAYBACK_SECRET: 'short',
      },
    );
    assert.equal(short.code, 2);
  });
});

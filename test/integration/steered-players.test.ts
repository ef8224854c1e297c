import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import HLS from 'hls-parser';
import { seedBufferPolicy } from '../../src/core/quality.js';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { launchChromium } from '../helpers/browser.js';
import { assertConformantMedia } from '../helpers/hls-conformance.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { type RunningLadder, startLadder } from '../helpers/ladder.js';
import { playerPage, startPageOrigin } from '../helpers/page-origin.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Server-side steering (README "Server-side steering") with players that run no page of ours:
 * ffmpeg and a bare hls.js embed open `master.m3u8?abr=server` and get one variant, the
 * viewer's steered playlist. The server's choice is made through the seed's adapt-quality call
 * (the seed rule, so the choice is known: health 5 is VeryLow, 95 climbs one step per decision
 * up to High); neither player sends CMCD, so nothing else moves it. Each must then play the
 * chosen rendition: ffmpeg decodes frames at its resolution, hls.js loads its segments and
 * keeps playing across the change.
 */

const STREAM = 'steered';
const ADMIN_TOKEN = 'steer-admin';
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
const PUBLISH_KEY = 'steer-publish-key-0123456789';
/** The light ladder's frame sizes (the tests' encoder preset). */
const SIZE = { VeryLow: '256x144', High: '854x480' } as const;

/** hls.js as a site would embed it: its defaults (no CMCD), the URL it was given, nothing else. */
const PAGE = playerPage(`
  const seen = (window.seen = { frags: [], errors: [], widths: [] });
  const hls = new Hls();
  hls.on(Hls.Events.FRAG_LOADED, (_e, data) => seen.frags.push({ at: Date.now(), url: data.frag.url }));
  hls.on(Hls.Events.ERROR, (_e, data) => seen.errors.push({ details: data.details, fatal: data.fatal }));
  video.addEventListener('resize', () => seen.widths.push({ at: Date.now(), width: video.videoWidth, time: video.currentTime }));
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
  hls.loadSource(new URLSearchParams(location.search).get('src'));
  hls.attachMedia(video);
  window.playhead = () => video.currentTime;
`);

interface Seen {
  frags: { at: number; url: string }[];
  errors: { details: string; fatal: boolean }[];
  widths: { at: number; width: number; time: number }[];
}

describe('players outside our page follow the server through a steered playlist', {
  timeout: 150_000,
}, () => {
  let server: TestServer;
  let ladder: RunningLadder | undefined;
  let closeBrowser: (() => Promise<void>) | undefined;
  let closePage: (() => Promise<void>) | undefined;
  let ffmpeg: ChildProcess | undefined;

  before(async () => {
    server = await startTestServer({ cleanupIntervalMs: 250, policy: seedBufferPolicy }, 200, {
      ingest: { probe: ffprobeMedia() },
      adminToken: ADMIN_TOKEN,
    });
    const started = await call(
      `${server.url}/api/v1/streams/start`,
      'POST',
      { recording_id: STREAM, publish_key: PUBLISH_KEY },
      ADMIN,
    );
    assert.equal(started.status, 201, JSON.stringify(started.body));
    ladder = startLadder(`${server.url}/ingest/${STREAM}`, 75, { bearerToken: PUBLISH_KEY });
    // Every rendition has published (a steered viewer may be sent to any of them).
    await waitFor(
      async () => {
        const stats = await call(`${server.url}/api/v1/streams/${STREAM}`, 'GET', undefined, ADMIN);
        const available = Object.values(stats.body.segments_available ?? {}) as number[];
        return available.length === 4 && available.every((n) => n >= 2) ? true : undefined;
      },
      30_000,
      'two segments in every rendition',
    );
  });

  after(async () => {
    ffmpeg?.kill('SIGKILL');
    await closeBrowser?.();
    await closePage?.();
    await ladder?.stop();
    await server?.close();
  });

  const viewers = async () => {
    const stats = await call(`${server.url}/api/v1/streams/${STREAM}`, 'GET', undefined, ADMIN);
    return stats.body.viewers as {
      viewer_id: string;
      session_id: string;
      segments_received: number;
      current_bitrate: string;
      bitrate_history: { to: string; reason: string }[];
    }[];
  };
  /** The server's choice for a viewer, through the seed's call (admin token). */
  const choose = async (viewerId: string, bufferHealth: number) => {
    const res = await call(
      `${server.url}/api/v1/viewers/adapt-quality`,
      'POST',
      { recording_id: STREAM, viewer_id: viewerId, buffer_health: bufferHealth },
      ADMIN,
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.new_bitrate as string;
  };

  it('offers one variant and a conformant per-viewer playlist; none without a session', async () => {
    const master = await fetch(`${server.url}/live/${STREAM}/master.m3u8?abr=server`);
    const text = await master.text();
    const session = master.headers.get('x-vtp-session');
    const variants = text.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF'));
    assert.equal(variants.length, 1, text);
    assert.match(text, new RegExp(`^auto/index\\.m3u8\\?session=${session}$`, 'm'));
    const media = await fetch(`${server.url}/live/${STREAM}/auto/index.m3u8?session=${session}`);
    assert.equal(media.status, 200);
    const playlist = await media.text();
    assertConformantMedia(playlist);
    const parsed = HLS.parse(playlist) as InstanceType<typeof HLS.types.MediaPlaylist>;
    for (const segment of parsed.segments) {
      assert.match(segment.uri, /^\.\.\/(VeryLow|Low|Medium|High)\/[^?]+\?session=/);
    }
    const bare = await fetch(`${server.url}/live/${STREAM}/auto/index.m3u8`);
    assert.equal(bare.status, 400);
    const error = (await bare.json()) as { error: { code: string; field: string } };
    assert.equal(error.error.code, 'STEERING_SESSION_REQUIRED');
    assert.equal(error.error.field, 'session');
  });

  it('ffmpeg decodes the rendition the server chose, down and back up', async () => {
    const before = new Set((await viewers()).map((v) => v.viewer_id));
    const child = spawn(
      process.env.VTP_FFMPEG ?? 'ffmpeg',
      [
        '-hide_banner',
        '-nostats',
        '-i',
        `${server.url}/live/${STREAM}/master.m3u8?abr=server`,
        '-map',
        '0:v:0',
        '-vf',
        'showinfo',
        '-f',
        'null',
        '-',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    ffmpeg = child;
    // showinfo prints every decoded frame's size; each line is stamped as it arrives.
    const frames: { at: number; size: string }[] = [];
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      for (const match of chunk.matchAll(/ s:(\d+x\d+) /g)) {
        frames.push({ at: Date.now(), size: match[1] as string });
      }
    });
    const viewer = await waitFor(
      async () =>
        (await viewers()).find((v) => !before.has(v.viewer_id) && v.segments_received >= 2),
      30_000,
      "ffmpeg's steered session with two segments",
    );
    assert.equal(await choose(viewer.viewer_id, 5), 'VeryLow');
    const downAt = Date.now();
    await waitFor(
      async () => frames.find((f) => f.at > downAt && f.size === SIZE.VeryLow),
      30_000,
      'ffmpeg decoding VeryLow frames',
    );
    // 95 is one step up per decision; the server decides again at every segment ffmpeg fetches.
    await choose(viewer.viewer_id, 95);
    const upAt = Date.now();
    await waitFor(
      async () => frames.find((f) => f.at > upAt && f.size === SIZE.High),
      40_000,
      'ffmpeg decoding High frames',
    );
    const history = (await viewers()).find(
      (v) => v.viewer_id === viewer.viewer_id,
    )?.bitrate_history;
    assert.ok(
      history?.some((h) => h.to === 'High' && h.reason === 'adaptation'),
      JSON.stringify(history),
    );
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    assert.notEqual(code, null, 'ffmpeg exits on its own after SIGINT');
  });

  it('a bare hls.js embed loads the chosen rendition and plays across the change', async () => {
    const page = await startPageOrigin(PAGE);
    closePage = page.close;
    const { browser, close } = await launchChromium();
    closeBrowser = close;
    const before = new Set((await viewers()).map((v) => v.viewer_id));
    const tab = await browser.newPage();
    const src = `${server.url}/live/${STREAM}/master.m3u8?abr=server`;
    await tab.goto(`${page.origin}/?src=${encodeURIComponent(src)}`);
    const seen = () => tab.evaluate(() => (window as unknown as { seen: Seen }).seen);
    const playhead = () =>
      tab.evaluate(() => (window as unknown as { playhead(): number }).playhead());
    const viewer = await waitFor(
      async () =>
        (await viewers()).find((v) => !before.has(v.viewer_id) && v.segments_received >= 2),
      30_000,
      "hls.js's steered session with two segments",
    );
    await waitFor(
      async () => ((await playhead()) > 1 ? true : undefined),
      30_000,
      'hls.js playing',
    );
    assert.equal(await choose(viewer.viewer_id, 5), 'VeryLow');
    const downAt = Date.now();
    const first = await waitFor(
      async () => (await seen()).frags.find((f) => f.at > downAt && f.url.includes('/VeryLow/')),
      30_000,
      'hls.js loading VeryLow segments',
    );
    assert.match(first.url, new RegExp(`/live/${STREAM}/VeryLow/[^/]+\\?session=`));
    await waitFor(
      async () => (await seen()).widths.find((w) => w.width === 256),
      30_000,
      'the video element showing VeryLow frames',
    );
    const switchedAt = await playhead();
    await waitFor(
      async () => ((await playhead()) > switchedAt + 4 ? true : undefined),
      30_000,
      'playback going on after the change',
    );
    const { errors } = await seen();
    assert.deepEqual(
      errors.filter((e) => e.fatal),
      [],
      'no fatal error',
    );
  });
});

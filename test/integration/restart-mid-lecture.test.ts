import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { PROFILE_NAMES } from '../../src/core/profiles.js';
import { launchChromium } from '../helpers/browser.js';
import { type Cli, startCli, stopCli } from '../helpers/cli.js';
import { run } from '../helpers/exec.js';
import { call } from '../helpers/http.js';
import { type RunningLadder, startLadder } from '../helpers/ladder.js';
import { waitFor } from '../helpers/wait.js';

const ADMIN_TOKEN = 'mid-lecture-admin-token';
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
const KEY = 'mid-lecture-publish-key';
/** Longer than the recorder's interval (1 s) plus the store's write-behind (50 ms). */
const SETTLE_MS = 1500;
/** Seconds of lecture before the kill. */
const BEFORE_KILL_MS = 20_000;
const problems: string[] = [];

interface Row {
  readonly viewer_id: string;
  readonly segments_received: number;
  readonly bytes_received: number;
}

/** The viewer id the player page joins with (its `?viewer=`). */
const BROWSER = 'browser';

/** What the player page (src/web/watch.js) exposes as `window.vtp`, as far as the test reads it. */
interface WatchState {
  readonly sessionId: string | null;
  readonly hls: {
    on(event: string, listener: (event: string, data: Record<string, unknown>) => void): void;
  } | null;
}

/** A media playlist's segments: number, path without the session query, discontinuity. */
function entries(text: string): { sequence: number; uri: string; discontinuity: boolean }[] {
  const lines = text.split('\n');
  let sequence = Number(
    lines.find((l) => l.startsWith('#EXT-X-MEDIA-SEQUENCE:'))?.split(':')[1] ?? 0,
  );
  const out: { sequence: number; uri: string; discontinuity: boolean }[] = [];
  let discontinuity = false;
  for (const line of lines) {
    if (line === '#EXT-X-DISCONTINUITY') discontinuity = true;
    else if (line && !line.startsWith('#')) {
      out.push({ sequence: sequence++, uri: line.split('?')[0] as string, discontinuity });
      discontinuity = false;
    }
  }
  return out;
}

/**
 * The ingest's own answers, from the server's debug request log: every segment PUT it
 * answered 201, per rendition, in order. A line lost with the SIGKILL only leaves a segment
 * unchecked, never a false failure.
 */
function acceptedSegments(cli: Cli): Map<string, string[]> {
  const accepted = new Map<string, string[]>();
  for (const line of cli.output) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { method?: string; url?: string; statusCode?: number };
    const match = /^\/ingest\/lecture\/(\w+)\/(seg_\d+\.ts)/.exec(entry.url ?? '');
    if (entry.method !== 'PUT' || entry.statusCode !== 201 || !match) continue;
    const list = accepted.get(match[1] as string) ?? [];
    list.push(match[2] as string);
    accepted.set(match[1] as string, list);
  }
  return accepted;
}

/** A viewer that polls the Low playlist and fetches each new segment, as a script would. */
class FetchViewer {
  paused = false;
  stopped = false;
  lastPlaylist = '';
  readonly seen = new Set<string>();
  private readonly loop: Promise<void>;
  constructor(
    private readonly base: () => string,
    readonly session: string,
  ) {
    this.loop = this.run();
  }
  private async run(): Promise<void> {
    while (!this.stopped) {
      if (!this.paused) {
        try {
          const url = `${this.base()}/live/lecture/Low/index.m3u8?session=${this.session}`;
          const response = await fetch(url);
          if (response.status === 200) {
            const text = await response.text();
            for (const line of text.split('\n')) {
              if (!line || line.startsWith('#') || this.seen.has(line.split('?')[0] as string))
                continue;
              const segment = await fetch(new URL(line, url));
              if (segment.status !== 200) continue;
              await segment.arrayBuffer();
              this.seen.add(line.split('?')[0] as string);
            }
            // Kept only after its segments are fetched: the counters then include them.
            if (!this.paused) this.lastPlaylist = text;
          } else await response.arrayBuffer();
        } catch {
          // The server is down: poll again, as a player would.
        }
      }
      await sleep(500);
    }
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/** `ffmpeg -i <Low playlist> -f null -` reading the live stream as a viewer. */
function ffmpegViewer(url: string, session: string): ChildProcess {
  return spawn(
    'ffmpeg',
    [
      '-v',
      'error',
      '-i',
      `${url}/live/lecture/Low/index.m3u8?session=${session}`,
      '-f',
      'null',
      '-',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
}

async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

describe('SIGKILL mid-lecture with a ladder pushing and three viewers playing', {
  timeout: 150_000,
}, () => {
  let dir: string;
  let args: string[];
  let first: Cli;
  let second: Cli;
  const ladders: RunningLadder[] = [];
  let ffmpegClient: ChildProcess | undefined;
  let fetcher: FetchViewer | undefined;
  let chromium: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let page: Page;
  const viewer = (cli: () => Cli, id: string) => async (): Promise<Row> =>
    (await call(`${cli().url}/api/v1/streams/lecture/viewers/${id}`, 'GET', undefined, ADMIN))
      .body as Row;
  const pre = {
    fetchRow: undefined as Row | undefined,
    ffmpegEarly: undefined as Row | undefined,
    ffmpegLate: undefined as Row | undefined,
    browserId: '',
    sessionId: '',
    browserEarly: undefined as Row | undefined,
    totalSegments: 0,
    lowPlaylist: '',
    accepted: new Map<string, string[]>(),
  };
  let killedAt = 0;
  const post = {
    restartMs: 0,
    /** When the 10 s of watching began, after the restart. */
    watchFrom: 0,
    played: 0,
    playedRanges: 0,
    /** What the page tells the student at the end. */
    status: '',
    fetchRow: undefined as Row | undefined,
    ffmpegRow: undefined as Row | undefined,
    browserRow: undefined as Row | undefined,
    /** The browser's row read with its own session as the credential. */
    browserOwnStatus: 0,
    browserLater: undefined as Row | undefined,
    /** The page's session after the 10 s, and the sessions its HLS requests named since the kill. */
    pageSession: '' as string | null,
    requestedSessions: new Set<string | null>(),
    liveRequests: 0,
    totalSegments: 0,
    timeline: [] as [number, string][],
  };
  /** The page's events since the kill, in ms after it, repeats folded: for the diagnostics. */
  const timelineSinceKill = () => {
    const out: string[] = [];
    let last = '';
    let repeats = 0;
    for (const [at, what] of post.timeline.filter(([at]) => at >= killedAt)) {
      if (what === last) repeats++;
      else {
        if (repeats) out[out.length - 1] += ` ×${repeats + 1}`;
        out.push(`+${at - killedAt} ${what}`);
        last = what;
        repeats = 0;
      }
    }
    if (repeats) out[out.length - 1] += ` ×${repeats + 1}`;
    return `server up +${post.restartMs}, watched from +${post.watchFrom - killedAt}; ${out.join(', ')}`;
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vtp-mid-lecture-'));
    const base = [
      '--data-dir',
      dir,
      '--admin-token',
      ADMIN_TOKEN,
      '--retention',
      '600',
      '--encoder-timeout',
      '120',
      '--log-level',
      'debug',
    ];
    first = await startCli(base, {}, { built: true });
    const port = new URL(first.url).port;
    args = [...base, '--port', port];
    const u = first.url;
    assert.equal(
      (
        await call(
          `${u}/api/v1/streams/start`,
          'POST',
          { recording_id: 'lecture', publish_key: KEY },
          ADMIN,
        )
      ).status,
      201,
    );
    assert.equal(
      (await call(`${u}/api/v1/streams/start`, 'POST', { recording_id: 'finished' }, ADMIN)).status,
      201,
    );
    assert.equal(
      (await call(`${u}/api/v1/streams/finished/end`, 'POST', undefined, ADMIN)).status,
      200,
    );
    const lectureStart = Date.now();
    ladders.push(startLadder(`${u}/ingest/lecture`, 120, { bearerToken: KEY }));
    await waitFor(
      async () => {
        const stats = await call(`${u}/api/v1/streams/lecture`, 'GET', undefined, ADMIN);
        const counts = Object.values(stats.body.segments_available ?? {}) as number[];
        return counts.length === 4 && counts.every((n) => n >= 3) ? true : undefined;
      },
      30_000,
      'three segments in every rendition',
    );
    const join = async (id: string) =>
      (await call(`${u}/api/v1/streams/lecture`, 'POST', { viewer_id: id })).body
        .session_id as string;
    fetcher = new FetchViewer(() => (second ?? first).url, await join('fetcher'));
    const ffmpegSession = await join('ffmpeg-viewer');
    ffmpegClient = ffmpegViewer(u, ffmpegSession);
    chromium = await launchChromium();
    page = await chromium.browser.newPage();
    // Failed requests while the server is down are expected; anything else the page says is kept.
    page.on('console', (m) => {
      if (!m.text().startsWith('Failed to load resource'))
        problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    // The student's own page, on the origin that is restarted: no retry settings of the test's.
    await page.goto(`${u}/watch/lecture?viewer=${BROWSER}`);
    await page.waitForFunction(
      () => (document.getElementById('video') as HTMLVideoElement).currentTime > 0.5,
      null,
      { timeout: 30_000 },
    );
    // What the player went through, noted for the diagnostics; its handling is the page's own.
    pre.sessionId = await page.evaluate(() => {
      // No named functions in here: tsx would wrap them in a helper the page does not have.
      const w = window as unknown as { vtp: WatchState; timeline: [number, string][] };
      w.timeline = [];
      const video = document.getElementById('video') as HTMLVideoElement;
      w.vtp.hls?.on('hlsError', (_e, data) =>
        w.timeline.push([Date.now(), `${data.fatal ? 'fatal' : 'error'} ${data.details}`]),
      );
      w.vtp.hls?.on('hlsFragBuffered', (_e, data) => {
        const f = data.frag as { sn: number; cc: number };
        w.timeline.push([
          Date.now(),
          `segment ${f.sn} cc${f.cc} t=${video.currentTime.toFixed(1)}`,
        ]);
      });
      w.vtp.hls?.on('hlsLevelLoaded', () => w.timeline.push([Date.now(), 'playlist']));
      for (const event of ['waiting', 'playing'])
        video.addEventListener(event, () =>
          w.timeline.push([Date.now(), `${event} t=${video.currentTime.toFixed(1)}`]),
        );
      return w.vtp.sessionId as string;
    });
    assert.ok(pre.sessionId, 'the page joined and holds its session');
    pre.browserId = BROWSER;

    // Mid-lecture: the fetch client pauses for a recorder tick so its counters are exact;
    // the others keep playing up to the kill and are checked against a snapshot a tick old.
    await sleep(Math.max(0, lectureStart + BEFORE_KILL_MS - SETTLE_MS - Date.now()));
    fetcher.paused = true;
    pre.ffmpegEarly = await viewer(() => first, 'ffmpeg-viewer')();
    pre.browserEarly = await viewer(() => first, pre.browserId)();
    pre.totalSegments = (
      await call(`${u}/api/v1/distribution/metrics`, 'GET')
    ).body.total_segments_served;
    await sleep(SETTLE_MS);
    pre.fetchRow = await viewer(() => first, 'fetcher')();
    pre.lowPlaylist = fetcher.lastPlaylist;
    pre.ffmpegLate = await viewer(() => first, 'ffmpeg-viewer')();

    let killed = false;
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (!killed || !url.pathname.startsWith('/live/lecture/')) return;
      post.liveRequests++;
      post.requestedSessions.add(url.searchParams.get('session'));
    });
    const exited = once(first.child, 'exit');
    killed = true;
    first.child.kill('SIGKILL');
    await exited;
    killedAt = Date.now();
    pre.accepted = acceptedSegments(first);
    // The ffmpeg viewer and the encoder lose their server; a real encoder reconnects.
    await killProcess(ffmpegClient);
    await ladders[0]?.stop();
    second = await startCli(args, {}, { built: true });
    post.restartMs = Date.now() - killedAt;
    assert.equal(second.url, first.url, 'the same origin for the page');
    // The encoder reconnects first: its pushes change no viewer's counters, and every second
    // it waits is a second the players wait for new segments.
    ladders.push(startLadder(`${second.url}/ingest/lecture`, 120, { bearerToken: KEY }));
    // Read before any viewer fetches again (the browser may have already: it only grows).
    post.fetchRow = await viewer(() => second, 'fetcher')();
    post.ffmpegRow = await viewer(() => second, 'ffmpeg-viewer')();
    post.browserRow = await viewer(() => second, pre.browserId)();
    post.browserOwnStatus = (
      await call(
        `${second.url}/api/v1/streams/lecture/viewers/${pre.browserId}`,
        'GET',
        undefined,
        {
          authorization: `Bearer ${pre.sessionId}`,
        },
      )
    ).status;
    post.totalSegments = (
      await call(`${second.url}/api/v1/distribution/metrics`, 'GET')
    ).body.total_segments_served;
    fetcher.paused = false;
    ffmpegClient = ffmpegViewer(second.url, ffmpegSession);

    // The position, and the seconds the <video> really played (its played ranges: a jump adds none).
    const time = () =>
      page.evaluate(() => {
        const video = document.getElementById('video') as HTMLVideoElement;
        let played = 0;
        for (let i = 0; i < video.played.length; i++)
          played += video.played.end(i) - video.played.start(i);
        return { position: video.currentTime, played };
      });
    post.watchFrom = Date.now();
    const t0 = await time();
    await sleep(10_000);
    const t1 = await time();
    post.played = t1.position - t0.position;
    post.playedRanges = t1.played - t0.played;
    post.timeline = await page.evaluate(
      () => (window as unknown as { timeline: [number, string][] }).timeline,
    );
    post.status = (await page.textContent('#status')) ?? '';
    post.pageSession = await page.evaluate(
      () => (window as unknown as { vtp: WatchState }).vtp.sessionId,
    );
    post.browserLater = await viewer(() => second, pre.browserId)();
  });

  after(async () => {
    await fetcher?.stop();
    if (ffmpegClient) await killProcess(ffmpegClient);
    for (const ladder of ladders) await ladder.stop();
    await chromium?.close();
    if (second) await stopCli(second);
    if (first) await stopCli(first);
    await rm(dir, { recursive: true, force: true });
  });

  it('restarts on the same data directory and port within 5 s', (t) => {
    t.diagnostic(
      `restart ${post.restartMs} ms; browser played ${post.played.toFixed(2)} s (played ranges ${post.playedRanges.toFixed(2)} s)`,
    );
    t.diagnostic(`page, ms after the kill: ${timelineSinceKill()}`);
    assert.ok(post.restartMs < 5000, `restarted in ${post.restartMs} ms`);
  });

  it('keeps the browser playing: video time advances at least 8 s in the 10 s after the restart', () => {
    const why = `${timelineSinceKill()}; ${problems.join(' | ')}`;
    assert.ok(post.played >= 8, `played ${post.played.toFixed(2)} s in 10 s; ${why}`);
    // Played, not jumped: the <video>'s played ranges grew as much.
    assert.ok(
      post.playedRanges >= 8,
      `played ranges grew ${post.playedRanges.toFixed(2)} s; ${why}`,
    );
    assert.equal(post.status, 'Playing live');
  });

  it('keeps the three viewers, sessions and counters, and the service totals', () => {
    const counters = (row: Row | undefined) => [
      row?.viewer_id,
      row?.segments_received,
      row?.bytes_received,
    ];
    assert.deepEqual(counters(post.fetchRow), counters(pre.fetchRow));
    assert.ok(pre.fetchRow && pre.fetchRow.segments_received > 0);
    const ffmpegRow = post.ffmpegRow as Row;
    assert.ok(
      ffmpegRow.segments_received >= (pre.ffmpegEarly as Row).segments_received &&
        ffmpegRow.segments_received <= (pre.ffmpegLate as Row).segments_received,
      `ffmpeg viewer: ${ffmpegRow.segments_received} restored, ${pre.ffmpegEarly?.segments_received}..${pre.ffmpegLate?.segments_received} before`,
    );
    assert.ok((pre.ffmpegEarly as Row).segments_received > 0);
    assert.equal(post.browserRow?.viewer_id, pre.browserId);
    assert.ok(
      (post.browserRow as Row).segments_received >= (pre.browserEarly as Row).segments_received,
    );
    // The player page's session came back under the same id: still its credential, still the
    // one the page holds and names in every HLS request, and still counting what it plays.
    assert.equal(post.browserOwnStatus, 200);
    assert.equal(post.pageSession, pre.sessionId);
    assert.ok(post.liveRequests > 0, 'the page asked the server again after the kill');
    assert.deepEqual([...post.requestedSessions], [pre.sessionId]);
    assert.ok(
      (post.browserLater as Row).segments_received > (post.browserRow as Row).segments_received,
      `browser: ${post.browserLater?.segments_received} after 10 s, ${post.browserRow?.segments_received} at the restart`,
    );
    assert.ok(post.totalSegments >= pre.totalSegments && pre.totalSegments > 0);
  });

  it('keeps the stream live and the ended one ended, and still asks for the publish key', async () => {
    const list = await call(`${second.url}/api/v1/streams`, 'GET', undefined, ADMIN);
    const status = new Map(
      (list.body.streams as { recording_id: string; status: string }[]).map((s) => [
        s.recording_id,
        s.status,
      ]),
    );
    assert.equal(status.get('lecture'), 'live');
    assert.equal(status.get('finished'), 'ended');
    const put = (headers: Record<string, string>) =>
      fetch(`${second.url}/ingest/lecture/Low/seg_99999.ts`, {
        method: 'PUT',
        headers,
        body: new Uint8Array(188),
      });
    assert.equal((await put({})).status, 401);
    assert.equal((await put({ authorization: 'Bearer not-the-key' })).status, 403);
    assert.equal(
      (
        await fetch(`${second.url}/ingest/finished/Low/seg_0.ts`, {
          method: 'PUT',
          body: new Uint8Array(188),
        })
      ).status,
      409,
    );
  });

  it('continues the sequence numbers after the newest one served before the kill, past a discontinuity', async () => {
    const before_ = entries(pre.lowPlaylist);
    const newest = before_.at(-1);
    assert.ok(newest, 'the fetch viewer saw a playlist before the kill');
    const now = entries(await (await fetch(`${second.url}/live/lecture/Low/index.m3u8`)).text());
    const restored = now.filter((e) => e.sequence <= newest.sequence);
    const resumed = now.filter((e) => e.sequence > newest.sequence);
    assert.ok(resumed.length > 0, 'the reconnected encoder is being served');
    if (restored.length > 0) {
      assert.deepEqual(restored.at(-1), {
        ...newest,
        discontinuity: restored.at(-1)?.discontinuity,
      });
    }
    assert.ok(
      resumed.some((e) => e.discontinuity),
      'a discontinuity marks the encoder restart',
    );
    // The fetch viewer kept going on the same session across the restart.
    assert.ok([...(fetcher as FetchViewer).seen].some((uri) => resumed.some((e) => e.uri === uri)));
  });

  it('plays ffmpeg on the same session again after the restart', async () => {
    const row = await viewer(() => second, 'ffmpeg-viewer')();
    assert.ok(row.segments_received > (post.ffmpegRow as Row).segments_received);
  });

  it('records every segment the ingest accepted, before and after the kill', async () => {
    for (const ladder of ladders) await ladder.stop();
    const acceptedAfter = acceptedSegments(second);
    assert.equal(
      (await call(`${second.url}/api/v1/streams/lecture/end`, 'POST', undefined, ADMIN)).status,
      200,
    );
    for (const profile of PROFILE_NAMES) {
      const response = await fetch(`${second.url}/vod/lecture/${profile}/index.m3u8`);
      assert.equal(response.status, 200);
      const vod = entries(await response.text());
      const cut = vod.findIndex((e, i) => i > 0 && e.discontinuity);
      assert.ok(cut > 0, `${profile}: a discontinuity at the restart`);
      const firstRun = pre.accepted.get(profile) ?? [];
      const secondRun = acceptedAfter.get(profile) ?? [];
      assert.ok(firstRun.length >= 5, `${profile}: ${firstRun.length} accepted before the kill`);
      // Every accepted segment of each encoder run is listed, in order, none missing.
      assert.ok(cut >= firstRun.length, `${profile}: ${cut} recorded of ${firstRun.length} before`);
      assert.ok(
        vod.length - cut >= secondRun.length,
        `${profile}: ${vod.length - cut} recorded of ${secondRun.length} after`,
      );
      for (const e of vod) {
        const segment = await fetch(new URL(e.uri, `${second.url}/vod/lecture/${profile}/`));
        assert.equal(segment.status, 200, e.uri);
        await segment.arrayBuffer();
      }
    }
    const decoded = await run('ffmpeg', [
      '-v',
      'error',
      '-xerror',
      '-i',
      `${second.url}/vod/lecture/Low/index.m3u8`,
      '-f',
      'null',
      '-',
    ]);
    assert.equal(decoded.code, 0, decoded.stderr);
  });
});

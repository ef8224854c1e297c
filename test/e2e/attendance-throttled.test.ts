import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PROFILES } from '../../src/core/profiles.js';
import { BUFFER_THRESHOLDS, LIVE_BUFFER_SEGMENTS } from '../../src/core/quality.js';
import { INITIAL_BUFFER_HEALTH } from '../../src/core/viewer-session.js';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { launchChromium } from '../helpers/browser.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { type LivePush, pushLive } from '../helpers/live-push.js';
import { type EncodedSegment, encodeSegments } from '../helpers/media-segments.js';
import {
  openPlayer,
  type Played,
  type SentRequest,
  startPlayerPages,
} from '../helpers/player-page.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The attendance report held against what real players did: hls.js in Chromium sending CMCD,
 * one of them starved with the DevTools Protocol's network emulation until it stalls, one on a
 * good link. Every expectation is derived from what the browser sent and received, none is a
 * constant. The stream is real ffmpeg media (one rendition, so hls.js has no lower one to
 * abandon a download for), encoded ahead and pushed at the live pace.
 */

const ADMIN_TOKEN = 'throttle-admin-token';
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
const STREAM = 'throttled';
const PROFILE = 'VeryLow';
const SEGMENT_SEC = PROFILES[PROFILE].segmentDurationSec;
/** Segments encoded: live stream for the whole test at 2 s each. */
const SEGMENTS = 26;
/** The starved phase lets through this share of the bitrate the rendition needs. */
const STARVED_SHARE = 0.25;
const THROTTLED_VIEWER = 'throttled-student';

type Player = Awaited<ReturnType<typeof openPlayer>>;

/**
 * Buffer health from CMCD `bl` as the README's CMCD section defines it: the share of a full live
 * buffer (three segments) held, capped at 100, to one decimal. Written out from the rule rather
 * than calling the server's function.
 */
function healthOf(bufferLengthMs: number): number {
  const full = LIVE_BUFFER_SEGMENTS * SEGMENT_SEC * 1000;
  return Math.min(100, Math.round((bufferLengthMs / full) * 1000) / 10);
}

/**
 * The reports at which the server's rule (README "Attendance report"; ViewerSession) counts a
 * low-buffer event, from the CMCD in `requests`: buffer health from `bl` falling under 20 from a
 * health the player reported before (its first report, an empty buffer before playback, is
 * none), or a run of `bs` starting while health was not already under 20 (the buffer ran dry
 * since the previous request, whatever the player refilled before asking: health falls to 0).
 * Starvation is applied before the request's `bl`, as the server does.
 */
function lowBufferCrossings(requests: readonly SentRequest[]): SentRequest[] {
  const critical = BUFFER_THRESHOLDS.critical;
  let previous = INITIAL_BUFFER_HEALTH;
  let measured = false;
  let starved = false;
  const crossings: SentRequest[] = [];
  for (const r of requests) {
    if (r.cmcd === undefined) continue;
    const bs = r.cmcd.bs === true;
    if (bs && !starved) {
      if (previous >= critical) crossings.push(r);
      previous = 0;
    }
    starved = bs;
    const bl = r.cmcd.bl;
    if (typeof bl !== 'number') continue;
    const health = healthOf(bl);
    if (measured && health < critical && previous >= critical) crossings.push(r);
    previous = health;
    measured = true;
  }
  return crossings;
}

const lowBufferEvents = (requests: readonly SentRequest[]) => lowBufferCrossings(requests).length;

/** Runs of requests carrying CMCD `bs`; a request with CMCD but without it ends a run. */
function starvationRuns(requests: readonly SentRequest[]): number {
  let runs = 0;
  let inRun = false;
  for (const r of requests) {
    if (r.cmcd === undefined) continue;
    const starved = r.cmcd.bs === true;
    if (starved && !inRun) runs++;
    inRun = starved;
  }
  return runs;
}

/**
 * What a count over the player's reports may be: over the requests the server answered, or also
 * over those the browser gave up on after sending (the server may have seen them). Taken in the
 * order of sending: hls.js asks for a segment only after the previous one arrived, so the server
 * saw its segment reports in that order (a playlist report made during a slow download may reach
 * it before the download's own, applied when the response is sent; both then hold the buffer of
 * about the same moment).
 */
function possibleCounts(
  requests: readonly SentRequest[],
  count: (requests: readonly SentRequest[]) => number,
): number[] {
  const answered = count(requests.filter((r) => r.status !== undefined));
  const sent = count(requests);
  return answered === sent ? [answered] : [answered, sent];
}

const segmentResponses = (requests: readonly SentRequest[]) =>
  requests.filter((r) => r.kind === 'segment' && r.status === 200);

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/** The `bl` values a player sent, in order, for messages: s = segment, p = playlist. */
const blTrace = (requests: readonly SentRequest[]) =>
  requests
    .filter((r) => r.cmcd?.bl !== undefined)
    .map((r) => `${r.kind[0]}${r.cmcd?.bl}${r.cmcd?.bs ? 'bs' : ''}`)
    .join(' ');

/**
 * Media time under which a `waiting` event is start-up, not the buffer running dry: Chromium at
 * times fires `waiting` a few milliseconds after the first `playing` with seconds buffered
 * (seen as `playing@0.02 waiting@0.02 playing@0.04`), and hls.js then sends `bs` on its next
 * request, which the server rightly counts as the player reported it.
 */
const START_SEC = 1;

/** Video `waiting` events once playback is past its start: the buffer really ran dry. */
const stallsSeen = (played: Played) =>
  played.media.filter((m) => m.type === 'waiting' && m.time >= START_SEC).length;

/** Video `waiting` events right after playback started (the start-up hiccup above). */
const startupWaits = (played: Played) => {
  const first = played.media.findIndex((m) => m.type === 'playing');
  if (first < 0) return 0;
  return played.media.slice(first).filter((m) => m.type === 'waiting' && m.time < START_SEC).length;
};

let server: TestServer;
let live: LivePush;
let pages: Awaited<ReturnType<typeof startPlayerPages>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;

interface ViewerRun {
  readonly requests: SentRequest[];
  readonly played: Played;
  /** When the viewer's session began, as the client saw it (join call; first segment asked). */
  readonly startedAt: number;
  readonly row: any;
}

describe('attendance report against real hls.js players, one throttled', {
  timeout: 60_000,
}, () => {
  let run: {
    throttled: ViewerRun;
    steady: ViewerRun;
    starvedKbps: number;
    needKbps: number;
    starvedSec: number;
    /** Requests the throttled player sent while starved: [from, to). */
    starved: { from: number; to: number };
  };

  before(async () => {
    let segments: EncodedSegment[];
    [segments, pages, chromium] = await Promise.all([
      encodeSegments(SEGMENTS, SEGMENT_SEC),
      startPlayerPages(),
      launchChromium(),
    ]);
    server = await startTestServer({}, 200, {
      adminToken: ADMIN_TOKEN,
      ingest: { probe: ffprobeMedia() },
    });
    const started = await call(
      `${server.url}/api/v1/streams/start`,
      'POST',
      { recording_id: STREAM, max_viewers: 10 },
      ADMIN,
    );
    assert.equal(started.status, 201, JSON.stringify(started.body));
    live = pushLive(server.url, STREAM, PROFILE, segments);
    live.done.catch(() => {}); // a refused push shows as a player that cannot play
    await waitFor(async () => (live.pushed() >= 3 ? true : undefined), 10_000, 'first segments');

    // What the rendition needs to arrive in real time, from its real segments.
    const needBytesPerSec =
      sum(segments.map((s) => s.bytes.byteLength)) / sum(segments.map((s) => Number(s.duration)));
    const starvedBytesPerSec = Math.round(needBytesPerSec * STARVED_SHARE);

    const joinedAt = Date.now();
    const joined = await call(
      `${server.url}/api/v1/streams/${STREAM}`,
      'POST',
      { viewer_id: THROTTLED_VIEWER, initial_bitrate: PROFILE },
      ADMIN,
    );
    assert.equal(joined.status, 201, JSON.stringify(joined.body));
    const throttled: Player = await openPlayer(
      await chromium.browser.newContext(),
      pages.origin,
      server.url,
      { src: joined.body.playback_url, sessionId: joined.body.session_id, contentId: STREAM },
    );
    // The viewer on a good link: anonymous, its session handed out by the multivariant playlist.
    const steady: Player = await openPlayer(
      await chromium.browser.newContext(),
      pages.origin,
      server.url,
      { src: `${server.url}/live/${STREAM}/master.m3u8` },
    );

    // Good: until it has played 2 s.
    await waitFor(
      async () =>
        (await throttled.page.evaluate(() => (window as any).played.mediaSeconds)) >= 2
          ? true
          : undefined,
      20_000,
      'the throttled player to play 2 s',
    );
    // Starved: a quarter of what the rendition needs, until the player reports that its buffer
    // ran dry (CMCD `bs` on the request after its video waited).
    const starvedFrom = throttled.requests.length;
    await throttled.throttle(starvedBytesPerSec);
    const starvedAt = Date.now();
    const starvedReport = await waitFor(
      async () => throttled.requests.slice(starvedFrom).find((r) => r.cmcd?.bs === true),
      30_000,
      'the throttled player to report a stall',
    );
    // Good again: until it asks for a segment with 3 s buffered.
    await throttled.throttle(undefined);
    const starvedTo = throttled.requests.length;
    const starvedSec = (Date.now() - starvedAt) / 1000;
    await waitFor(
      async () =>
        throttled.requests
          .slice(starvedReport.index + 1)
          .some((r) => r.kind === 'segment' && Number(r.cmcd?.bl) >= 3000)
          ? true
          : undefined,
      20_000,
      'the throttled player to refill its buffer',
    );

    // Both stop loading right after a fragment arrives, so no segment is left half fetched.
    const stop = async (p: Player) => {
      await p.page.evaluate(() => (window as any).stopAfterFragment());
      await p.page.waitForFunction(() => (window as any).played.stoppedAt !== null, null, {
        timeout: 10_000,
      });
      await waitFor(
        async () =>
          p.requests.every((r) => r.failure !== undefined || r.bodyBytes !== undefined)
            ? true
            : undefined,
        10_000,
        'every request of the player settled',
      );
      return p.played();
    };
    const [throttledPlayed, steadyPlayed] = await Promise.all([stop(throttled), stop(steady)]);

    // A segment is counted once its response has been sent, which the browser may see first.
    const rows = await waitFor(
      async () => {
        const res = await call(
          `${server.url}/api/v1/streams/${STREAM}/report`,
          'GET',
          undefined,
          ADMIN,
        );
        const viewers = res.body.viewers as any[];
        const mine = viewers.find((r) => r.viewer_id === THROTTLED_VIEWER);
        const anon = viewers.find((r) => r.anonymous);
        return mine?.segments_received === segmentResponses(throttled.requests).length &&
          anon?.segments_received === segmentResponses(steady.requests).length
          ? { mine, anon }
          : undefined;
      },
      5000,
      'every segment the players got counted',
      50,
    );
    live.stop();

    const firstSegment = steady.requests.find((r) => r.kind === 'segment');
    run = {
      throttled: {
        requests: throttled.requests,
        played: throttledPlayed,
        startedAt: joinedAt,
        row: rows.mine,
      },
      steady: {
        requests: steady.requests,
        played: steadyPlayed,
        startedAt: firstSegment?.at ?? Number.NaN,
        row: rows.anon,
      },
      needKbps: Math.round((needBytesPerSec * 8) / 1000),
      starvedKbps: Math.round((starvedBytesPerSec * 8) / 1000),
      starvedSec,
      starved: { from: starvedFrom, to: starvedTo },
    };
  });

  after(async () => {
    live?.stop();
    await chromium?.close();
    await pages?.close();
    await server?.close();
  });

  /** Checks that hold for either viewer: bytes exact, the CMCD counts as derived. */
  function assertAccounted(viewer: ViewerRun, name: string): void {
    const { requests, played, row } = viewer;
    const failedSegments = requests.filter((r) => r.kind === 'segment' && r.failure);
    assert.deepEqual(
      failedSegments.map((r) => r.url),
      [],
      `${name}: no segment download cut short`,
    );
    const got = segmentResponses(requests);
    const received = sum(got.map((r) => r.bodyBytes ?? Number.NaN));
    assert.equal(
      sum(got.map((r) => r.contentLength ?? Number.NaN)),
      received,
      `${name}: the browser received every byte the server sent`,
    );
    assert.equal(
      sum(played.frags.map((f) => f.bytes)),
      received,
      `${name}: hls.js loaded (FRAG_LOADED) the bytes of every segment response`,
    );
    assert.equal(row.segments_received, got.length, `${name}: segments`);
    assert.equal(row.bytes_received, received, `${name}: bytes, exact`);

    const trace = blTrace(requests);
    assert.ok(
      possibleCounts(requests, lowBufferEvents).includes(row.low_buffer_events),
      `${name}: ${row.low_buffer_events} low-buffer events; from the bl it sent (${trace}): ${possibleCounts(requests, lowBufferEvents)}`,
    );
    assert.ok(
      possibleCounts(requests, starvationRuns).includes(row.stalls),
      `${name}: ${row.stalls} stalls; runs of bs it sent: ${possibleCounts(requests, starvationRuns)} (${trace})`,
    );

    // Watch time: from the session's start to its last request, which came just before the page
    // stopped loading; the media it played fits in it (a stall is watch time, not media played).
    const pageSec = ((played.stoppedAt ?? Number.NaN) - viewer.startedAt) / 1000;
    assert.ok(
      Math.abs(row.watch_seconds - pageSec) <= SEGMENT_SEC,
      `${name}: watch ${row.watch_seconds} s, the page was at it ${pageSec} s`,
    );
    assert.ok(
      played.mediaSeconds <= row.watch_seconds + SEGMENT_SEC,
      `${name}: played ${played.mediaSeconds} s of media in ${row.watch_seconds} s of watch time`,
    );
  }

  /** The figures of a viewer's run, printed before its checks so a failure shows them. */
  function figures(viewer: ViewerRun) {
    return {
      bl: blTrace(viewer.requests),
      stallsSeen: stallsSeen(viewer.played),
      media: viewer.played.media.map((m) => `${m.type}@${m.time.toFixed(2)}`).join(' '),
      stalledErrors: viewer.played.stalledErrors,
      errors: viewer.played.errors.map(
        (e) =>
          `${e.details} ${e.event ?? ''} ${e.message ?? ''} @${e.at - (viewer.played.stoppedAt ?? 0)}`,
      ),
      mediaSec: viewer.played.mediaSeconds,
      pageSec: ((viewer.played.stoppedAt ?? 0) - viewer.startedAt) / 1000,
      failed: viewer.requests.filter((r) => r.failure).map((r) => `${r.kind}: ${r.failure}`),
      row: { ...viewer.row, connection_quality: undefined },
    };
  }

  it('counts what the throttled player got and reported: bytes exact, low-buffer events and stalls from its CMCD, watch time', (t) => {
    const { throttled } = run;
    t.diagnostic(
      JSON.stringify({
        needKbps: run.needKbps,
        starvedKbps: run.starvedKbps,
        starvedSec: run.starvedSec,
        ...figures(throttled),
      }),
    );
    // The throttle worked: the page's video waited while playing, hls.js saw its buffer stall,
    // and the player said so on its next request.
    assert.ok(stallsSeen(throttled.played) >= 1, 'the video stalled in the page');
    assert.ok(throttled.played.stalledErrors >= 1, 'hls.js raised BUFFER_STALLED_ERROR');
    assert.ok(starvationRuns(throttled.requests) >= 1, 'the player sent CMCD bs');
    assert.ok(throttled.row.stalls >= 1, 'the report shows the stall');
    assertAccounted(throttled, 'throttled viewer');
  });

  it('counts what the player on a good link got and reported, with no stall', (t) => {
    const { steady } = run;
    t.diagnostic(JSON.stringify(figures(steady)));
    // Its buffer never ran dry once playing; its stalls are what hls.js reported (0, or 1 for
    // the start-up `waiting` above), checked against its bs runs with the rest.
    assert.equal(stallsSeen(steady.played), 0, 'the video never stalled in the page');
    assert.ok(
      starvationRuns(steady.requests) <= startupWaits(steady.played),
      'bs only for a start-up hiccup',
    );
    assertAccounted(steady, 'unthrottled viewer');
  });

  it('shows no low-buffer event for the viewer on a good link, but for a start-up hiccup it reported', () => {
    const { steady } = run;
    // Its first reports (bl=0 before anything is buffered) are no fall; only a bs hls.js sent
    // for the start-up `waiting` may count, and it is one of those checked above.
    assert.equal(
      steady.row.low_buffer_events,
      starvationRuns(steady.requests),
      `bl sent: ${blTrace(steady.requests)}`,
    );
  });

  // hls.js asks for a segment only after the previous one is appended (bl >= one 2 s segment,
  // health 33) and repeats the bl of its last append on playlist requests: no bl it sends while
  // starving falls under 20, and it is CMCD bs that says the buffer ran dry.
  it('counts a low-buffer event from what the throttled player reported while it starved', () => {
    const { from, to } = run.starved;
    const starved = lowBufferCrossings(run.throttled.requests).filter(
      (r) => r.index >= from && r.index < to,
    );
    assert.ok(
      starved.length >= 1,
      `no low-buffer event while starved; bl sent: ${blTrace(run.throttled.requests)}`,
    );
    assert.ok(run.throttled.row.low_buffer_events >= starved.length);
  });
});

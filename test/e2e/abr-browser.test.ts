import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { ADAPTATION_POLICIES } from '../../src/core/adaptation/index.js';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import {
  type AbrRun,
  abrTable,
  abrTraces,
  type LiveLadder,
  runTrace,
  startLiveLadder,
  startPlainPlayerPages,
} from '../helpers/abr-browser.js';
import { launchChromium } from '../helpers/browser.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The server's adaptation against hls.js's own, in Chromium: for each of three network traces
 * (steady 1.5 Mbps; 6 -> 0.8 -> 6 Mbps; 3 / 0.7 Mbps every 10 s), the player page `/watch/{id}`
 * steered by the server's `vtp` policy (A) and a plain hls.js page choosing for itself (B) play
 * the same live four-rendition stream side by side, each in its own browser context throttled by
 * the same trace through the DevTools Protocol. Stalls, stalled seconds, bitrate and switches
 * come from the video element and hls.js's events. bench:abr-browser runs the same harness with
 * longer traces and the seed rule as well.
 */

const STREAM = 'abr-browser';
const TRACE_SEC = 60;
const TRACES = abrTraces(TRACE_SEC);
const START_TIMEOUT_MS = 30_000;
/** Media the live stream lasts: the first segments, then every trace with its start. */
const STREAM_SEC = 20 + TRACES.length * (TRACE_SEC + START_TIMEOUT_MS / 1000 + 5);
/** Share of a trace's window the playhead must advance through: the player played most of it. */
const PLAYED_SHARE = 0.5;

const SERVER_MODE = 'A server (vtp)';
const HLSJS_MODE = 'B hls.js';

/** What the player page and the server said about a mode A viewer, read before its page closes. */
interface Steering {
  readonly viewerId: string;
  /** Profiles the server chose for the viewer (the page's applied choices, the server's history). */
  readonly chosen: readonly string[];
  readonly pageSwitches: readonly {
    at?: string;
    from?: string | null;
    to?: string;
    why?: string;
  }[];
  readonly row: any;
}

let server: TestServer;
let ladder: LiveLadder;
let plain: Awaited<ReturnType<typeof startPlainPlayerPages>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
const runs: AbrRun<Steering | undefined>[] = [];

async function viewerRow(viewerId: string): Promise<any> {
  const stats = await call(`${server.url}/api/v1/streams/${STREAM}?limit=1000`, 'GET');
  return (stats.body.viewers as any[]).find((r) => r.viewer_id === viewerId);
}

async function steering(page: Page, viewerId: string): Promise<Steering> {
  const vtp = await page.evaluate(() => {
    const state = (window as any).vtp;
    return { switches: state?.switches ?? [], serverBitrate: state?.serverBitrate ?? null };
  });
  const row = await viewerRow(viewerId);
  const history = (row?.bitrate_history ?? []) as { to: string; reason: string }[];
  const chosen = new Set<string>([
    ...vtp.switches.map((s: { to?: string }) => s.to).filter(Boolean),
    ...history.filter((h) => h.reason !== 'observed').map((h) => h.to),
  ]);
  return { viewerId, chosen: [...chosen], pageSwitches: vtp.switches, row };
}

const byMode = (mode: string) => runs.filter((r) => r.mode === mode);
const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/** The figures a failure message needs: the table row, the per-second timeline, the steering. */
function describeRun(run: AbrRun<Steering | undefined>): string {
  const f = run.figures;
  const steer = run.extra;
  return JSON.stringify({
    trace: run.trace,
    mode: run.mode,
    started: run.started,
    mediaSec: Number(f.mediaSec.toFixed(1)),
    timeline: f.timeline,
    played: f.played,
    fatal: f.fatalErrors,
    abortedLoads: f.abortedLoads,
    errors: run.record.errors.filter((e) => e.details !== 'aborted').map((e) => e.details),
    ...(steer && {
      serverChose: steer.chosen,
      pageSwitches: steer.pageSwitches.map((s) => `${s.at?.slice(11, 19)} ${s.to} ${s.why}`),
      row: {
        current: steer.row?.current_bitrate,
        target: steer.row?.target_bitrate,
        health: steer.row?.buffer_health,
        throughput_kbps: steer.row?.throughput_kbps,
        history: (steer.row?.bitrate_history ?? []).map(
          (h: any) =>
            `${String(h.at).slice(11, 19)} ${h.from}->${h.to} ${h.reason}${h.detail ? ` (${h.detail})` : ''}`,
        ),
      },
    }),
  });
}

describe('server adaptation against hls.js ABR in Chromium under throttling', {
  timeout: 300_000,
}, () => {
  before(async () => {
    [chromium, plain] = await Promise.all([launchChromium(), startPlainPlayerPages()]);
    server = await startTestServer({ policy: ADAPTATION_POLICIES.vtp }, 200, {
      ingest: { probe: ffprobeMedia() },
    });
    const started = await call(`${server.url}/api/v1/streams/start`, 'POST', {
      recording_id: STREAM,
      max_viewers: 20,
    });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    ladder = await startLiveLadder([server.url], STREAM, STREAM_SEC);
    ladder.done.catch(() => {}); // a refused push shows as players that cannot play
    await waitFor(
      async () => {
        const stats = await call(`${server.url}/api/v1/streams/${STREAM}`, 'GET');
        const counts = Object.values(
          (stats.body?.segments_available ?? {}) as Record<string, number>,
        );
        return counts.length === 4 && counts.every((n) => n >= 4) ? true : undefined;
      },
      30_000,
      'four segments in every rendition',
    );
  });

  after(async () => {
    await chromium?.close();
    await ladder?.stop();
    await plain?.close();
    await server?.close();
  });

  for (const [i, trace] of TRACES.entries()) {
    it(`plays the ${trace.name} trace in both modes, the server steering mode A`, {
      timeout: START_TIMEOUT_MS + TRACE_SEC * 1000 + 30_000,
    }, async (t) => {
      const serverViewer = `abr-server-${i}`;
      // Mode B joins too, for a session of its own, and then plays without reporting anything.
      const joined = await call(`${server.url}/api/v1/streams/${STREAM}`, 'POST', {
        viewer_id: `abr-hlsjs-${i}`,
      });
      assert.equal(joined.status, 201, JSON.stringify(joined.body));
      const traceRuns = await runTrace<Steering | undefined>(
        chromium.browser,
        trace,
        [
          {
            name: SERVER_MODE,
            url: `${server.url}/watch/${STREAM}?viewer=${serverViewer}`,
            inspect: (page) => steering(page, serverViewer),
          },
          {
            name: HLSJS_MODE,
            url: `${plain.origin}/?src=${encodeURIComponent(joined.body.playback_url)}`,
          },
        ],
        START_TIMEOUT_MS,
      );
      runs.push(...traceRuns);
      for (const line of abrTable(traceRuns).split('\n')) t.diagnostic(line);
      for (const run of traceRuns) t.diagnostic(describeRun(run));

      for (const run of traceRuns) {
        const f = run.figures;
        assert.ok(run.started, `${run.mode} started playing: ${describeRun(run)}`);
        assert.ok(
          f.mediaSec >= PLAYED_SHARE * f.windowSec,
          `${run.mode} played ${f.mediaSec.toFixed(1)} s of media in ${f.windowSec.toFixed(1)} s`,
        );
        assert.deepEqual(f.fatalErrors, [], `${run.mode}: no fatal hls.js error`);
      }
      // Mode A's player plays what the server chose, not what hls.js would.
      const steered = traceRuns.find((r) => r.mode === SERVER_MODE);
      const chosen = new Set(steered?.extra?.chosen);
      const unchosen = steered?.figures.played.filter((p) => !chosen.has(p));
      assert.deepEqual(
        unchosen,
        [],
        `mode A played only the server's choices: ${describeRun(steered as AbrRun<Steering>)}`,
      );
    });
  }

  it('follows the server in mode A: its player changed level as the server chose', () => {
    const server = byMode(SERVER_MODE);
    assert.equal(server.length, TRACES.length, 'every trace ran');
    assert.ok(
      sum(server.map((r) => r.figures.switches)) >= 1,
      `no level change played in mode A: ${server.map(describeRun).join('\n')}`,
    );
  });

  it('stalls no more with the server policy than with hls.js, summed over the three traces', (t) => {
    const a = byMode(SERVER_MODE);
    const b = byMode(HLSJS_MODE);
    assert.equal(a.length, TRACES.length, 'every trace ran in mode A');
    assert.equal(b.length, TRACES.length, 'every trace ran in mode B');
    for (const line of abrTable(runs).split('\n')) t.diagnostic(line);
    const stalls = (r: readonly AbrRun[]) => sum(r.map((x) => x.figures.stalls));
    const stalled = (r: readonly AbrRun[]) => sum(r.map((x) => x.figures.stalledSec));
    const figures = runs.map(describeRun).join('\n');
    assert.ok(
      stalls(a) <= stalls(b),
      `stalls: server ${stalls(a)}, hls.js ${stalls(b)}\n${figures}`,
    );
    assert.ok(
      stalled(a) <= stalled(b),
      `stalled s: server ${stalled(a).toFixed(1)}, hls.js ${stalled(b).toFixed(1)}\n${figures}`,
    );
  });
});

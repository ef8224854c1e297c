/**
 * npm run bench:abr-browser: the server's adaptation against hls.js's own in Chromium, on the
 * three traces of 90 s (steady 1.5 Mbps; 6 -> 0.8 -> 6 Mbps, 30 s each;
 * 3 / 0.7 Mbps every 10 s), DevTools throttling with 40 ms added latency. Per trace three players
 * side by side, each in its own browser context, on one live four-rendition stream of real media
 * pushed to two servers: the player page `/watch/{id}` steered by the `vtp` policy, the same
 * page steered by the seed rule, and a plain hls.js page with its own ABR. Prints a markdown
 * table (stalls, stalled s, average nominal Mbps, switches, QoE_lin per minute, latency to
 * live), each run's second-by-second profile and the server's switch history, and writes
 * bench/.cache/abr-browser-result.json. Runs about ten minutes; the figures come from one run
 * each, so a stall or two is noise.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { ADAPTATION_POLICIES } from '../../src/core/adaptation/index.js';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import {
  type AbrMode,
  type AbrRun,
  ADDED_LATENCY_MS,
  abrTable,
  abrTraces,
  type LiveLadder,
  runTrace,
  startLiveLadder,
  startPlainPlayerPages,
} from '../../test/helpers/abr-browser.js';
import { launchChromium } from '../../test/helpers/browser.js';
import { call, startTestServer, type TestServer } from '../../test/helpers/http.js';
import { waitFor } from '../../test/helpers/wait.js';

const RESULT = fileURLToPath(new URL('../.cache/abr-browser-result.json', import.meta.url));
const STREAM = 'abr-browser';
const TRACE_SEC = 90;
const START_TIMEOUT_MS = 30_000;
const TRACES = abrTraces(TRACE_SEC);
/** Media the live stream lasts: the first segments, then every trace with its start. */
const STREAM_SEC = 20 + TRACES.length * (TRACE_SEC + START_TIMEOUT_MS / 1000 + 10);
const POLICIES = ['vtp', 'seed'] as const;

/** The server's view of a steered viewer, read before its page closes. */
interface ServerView {
  readonly current: string | undefined;
  readonly history: readonly string[];
  readonly pageSwitches: number;
}

interface StatsBody {
  readonly segments_available?: Record<string, number>;
  readonly viewers?: {
    viewer_id: string;
    current_bitrate: string;
    bitrate_history: { at: string; from: string; to: string; reason: string; detail?: string }[];
  }[];
}

async function serverView(server: TestServer, viewerId: string, page: Page): Promise<ServerView> {
  const stats = (await call(`${server.url}/api/v1/streams/${STREAM}?limit=1000`, 'GET'))
    .body as StatsBody;
  const row = stats.viewers?.find((v) => v.viewer_id === viewerId);
  const pageSwitches = await page.evaluate(
    () => ((window as unknown as { vtp?: { switches?: unknown[] } }).vtp?.switches ?? []).length,
  );
  return {
    current: row?.current_bitrate,
    history: (row?.bitrate_history ?? []).map(
      (h) =>
        `${h.at.slice(11, 19)} ${h.from}->${h.to} ${h.reason}${h.detail ? ` (${h.detail})` : ''}`,
    ),
    pageSwitches,
  };
}

async function main() {
  const started = Date.now();
  const hlsVersion = (createRequire(import.meta.url)('hls.js/package.json') as { version: string })
    .version;
  const chromium = await launchChromium();
  const plain = await startPlainPlayerPages();
  const servers = new Map<string, TestServer>();
  let ladder: LiveLadder | undefined;
  const runs: AbrRun<ServerView | undefined>[] = [];
  try {
    for (const policy of POLICIES) {
      const server = await startTestServer({ policy: ADAPTATION_POLICIES[policy] }, 200, {
        ingest: { probe: ffprobeMedia() },
      });
      servers.set(policy, server);
      const res = await call(`${server.url}/api/v1/streams/start`, 'POST', {
        recording_id: STREAM,
        max_viewers: 20,
      });
      if (res.status !== 201) throw new Error(`stream start answered ${res.status}`);
    }
    const all = [...servers.values()];
    console.log(
      `encoding and pushing ${STREAM_SEC} s of the light ladder to ${all.length} servers`,
    );
    ladder = await startLiveLadder(
      all.map((s) => s.url),
      STREAM,
      STREAM_SEC,
    );
    ladder.done.catch((error: Error) => console.error(`push failed: ${error.message}`));
    for (const server of all) {
      await waitFor(
        async () => {
          const body = (await call(`${server.url}/api/v1/streams/${STREAM}`, 'GET'))
            .body as StatsBody;
          const counts = Object.values(body.segments_available ?? {});
          return counts.length === 4 && counts.every((n) => n >= 4) ? true : undefined;
        },
        30_000,
        'four segments in every rendition',
      );
    }

    const vtpServer = servers.get('vtp') as TestServer;
    for (const [i, trace] of TRACES.entries()) {
      console.log(`trace ${trace.name} (${trace.durationSec} s) ...`);
      const modes: AbrMode<ServerView | undefined>[] = POLICIES.map((policy) => {
        const server = servers.get(policy) as TestServer;
        const viewer = `bench-${policy}-${i}`;
        return {
          name: `A server (${policy})`,
          url: `${server.url}/watch/${STREAM}?viewer=${viewer}`,
          inspect: (page: Page) => serverView(server, viewer, page),
        };
      });
      const joined = await call(`${vtpServer.url}/api/v1/streams/${STREAM}`, 'POST', {
        viewer_id: `bench-hlsjs-${i}`,
      });
      if (joined.status !== 201) throw new Error(`join answered ${joined.status}`);
      modes.push({
        name: 'B hls.js',
        url: `${plain.origin}/?src=${encodeURIComponent(joined.body.playback_url)}`,
      });
      const traceRuns = await runTrace(chromium.browser, trace, modes, START_TIMEOUT_MS);
      runs.push(...traceRuns);
      for (const run of traceRuns) {
        console.log(
          `  ${run.mode.padEnd(16)} ${run.started ? '' : '(did not start) '}${run.figures.timeline} ` +
            `(${run.figures.abortedLoads} loads aborted)`,
        );
      }
    }
  } finally {
    await chromium.close();
    await ladder?.stop();
    await plain.close();
    for (const server of servers.values()) await server.close();
  }

  console.log(
    `\nhls.js ${hlsVersion}, headless Chromium, DevTools throttling with ${ADDED_LATENCY_MS} ms ` +
      `added latency; ${TRACE_SEC} s per trace after every player started; ` +
      `${((Date.now() - started) / 60_000).toFixed(1)} min in all\n`,
  );
  console.log(abrTable(runs));
  console.log(
    '\nOne letter a second: the profile playing (V, L, M, H), _ stalled. Server switch history:',
  );
  for (const run of runs) {
    if (!run.extra) continue;
    console.log(
      `\n${run.trace} / ${run.mode}: ${run.figures.timeline} (the page applied ${run.extra.pageSwitches} choices)`,
    );
    console.log(`  ${run.extra.history.join('; ')}`);
  }

  const out = {
    hls_js: hlsVersion,
    added_latency_ms: ADDED_LATENCY_MS,
    trace_sec: TRACE_SEC,
    traces: TRACES,
    runs: runs.map((r) => ({
      trace: r.trace,
      mode: r.mode,
      started: r.started,
      stalls: r.figures.stalls,
      stalled_sec: r.figures.stalledSec,
      avg_mbps: r.figures.avgMbps,
      loaded_mbps: r.figures.loadedMbps,
      switches: r.figures.switches,
      qoe_lin_per_min: r.figures.qoeLinPerMin,
      latency_sec: r.figures.latencySec,
      media_sec: r.figures.mediaSec,
      fatal_errors: r.figures.fatalErrors,
      aborted_loads: r.figures.abortedLoads,
      timeline: r.figures.timeline,
      ...(r.extra && { server_history: r.extra.history }),
    })),
  };
  await mkdir(path.dirname(RESULT), { recursive: true });
  await writeFile(RESULT, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(process.cwd(), RESULT)}`);
}

await main();

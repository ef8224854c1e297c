/**
 * The harness of the browser ABR comparison (test/e2e/abr-browser.test.ts, bench:abr-browser):
 * a live four-rendition stream of real media, players in Chromium under network throttling that
 * follows a trace through the DevTools Protocol, and the figures of each run read from the video
 * element and hls.js's own events.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import HLS from 'hls-parser';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { PROFILE_NAMES, PROFILES, type ProfileName } from '../../src/core/profiles.js';
import { LADDER_PRESETS, ladderArguments } from '../../src/ingest/ffmpeg-ladder.js';
import { playerPage, startPageOrigin } from './page-origin.js';
import { waitFor } from './wait.js';

/** Latency the throttle adds to every request (a campus Wi-Fi's round trip, roughly). */
export const ADDED_LATENCY_MS = 40;
/** Pensieve's QoE_lin weight: a stalled second costs as much as 4.3 Mbps shown for a second. */
export const REBUFFER_PENALTY = 4.3;
/**
 * Media a player must have played past its first `playing` before the trace starts: two
 * segments, so that a start-up hiccup (a first segment played before the second arrived) is
 * start-up, not a stall of the run.
 */
const START_MEDIA_SEC = 4;
/** Segments the pushed media playlists list, as ffmpeg's hls muxer keeps by default. */
const PUSHED_PLAYLIST_SEGMENTS = 6;

// ---------------------------------------------------------------------------------------------
// Traces

/** From `atSec` after the trace starts, the link carries `mbps`. */
export interface TraceStep {
  readonly atSec: number;
  readonly mbps: number;
}

export interface AbrTrace {
  readonly name: string;
  readonly durationSec: number;
  readonly steps: readonly TraceStep[];
}

/** The three link shapes compared: steady low, a step down and back, oscillating; over `durationSec`. */
export function abrTraces(durationSec: number): AbrTrace[] {
  const third = durationSec / 3;
  const oscillating: TraceStep[] = [];
  for (let at = 0, i = 0; at < durationSec; at += 10, i++) {
    oscillating.push({ atSec: at, mbps: i % 2 === 0 ? 3 : 0.7 });
  }
  return [
    { name: 'steady 1.5', durationSec, steps: [{ atSec: 0, mbps: 1.5 }] },
    {
      name: 'step 6-0.8-6',
      durationSec,
      steps: [
        { atSec: 0, mbps: 6 },
        { atSec: third, mbps: 0.8 },
        { atSec: 2 * third, mbps: 6 },
      ],
    },
    { name: 'oscillating 3/0.7', durationSec, steps: oscillating },
  ];
}

/**
 * Applies `trace` to every throttle from now: each step at its time, until the trace's end,
 * when `done` settles. `stop` cancels the steps still to come.
 */
export function driveTrace(
  trace: AbrTrace,
  throttles: readonly ((mbps: number) => Promise<void>)[],
): { done: Promise<void>; stop(): void } {
  const timers: NodeJS.Timeout[] = [];
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const apply = (mbps: number) => Promise.all(throttles.map((t) => t(mbps).catch(() => {})));
  for (const step of trace.steps) {
    timers.push(setTimeout(() => void apply(step.mbps), step.atSec * 1000));
  }
  timers.push(setTimeout(finish, trace.durationSec * 1000));
  return {
    done,
    stop() {
      for (const timer of timers) clearTimeout(timer);
      finish();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A live ladder of real media

export interface LiveLadder {
  /** Segments pushed so far (per rendition). */
  readonly pushed: () => number;
  /** Settles when the pushing ends (stopped, or the encode ran out); rejects on a refused push. */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

interface Listed {
  readonly file: string;
  readonly duration: number;
}

async function listedSegments(dir: string, profile: ProfileName): Promise<Listed[]> {
  try {
    const text = await readFile(path.join(dir, profile, 'index.m3u8'), 'utf8');
    const playlist = HLS.parse(text) as InstanceType<typeof HLS.types.MediaPlaylist>;
    return playlist.segments.map((s) => ({ file: s.uri, duration: s.duration }));
  } catch {
    return []; // not written yet
  }
}

async function put(url: string, body: Uint8Array<ArrayBuffer> | string): Promise<void> {
  const res = await fetch(url, { method: 'PUT', body });
  if (res.status !== 201) throw new Error(`PUT ${url} answered ${res.status}: ${await res.text()}`);
}

/**
 * The light ladder (all four profiles, 2 s MPEG-TS segments, the built-in encoder's own ffmpeg
 * arguments) of `durationSec` of the test pattern, encoded into a temporary folder as fast as
 * ffmpeg goes (niced, so the players keep the CPU they need) and pushed at the live pace to
 * `recordingId` on every server of `bases`: segment i of every rendition one segment duration
 * after segment i - 1, each followed by its media playlist, as a live encoder pushes. A live
 * stream of real media without an encoder that must keep real time on a shared machine.
 */
export async function startLiveLadder(
  bases: readonly string[],
  recordingId: string,
  durationSec: number,
): Promise<LiveLadder> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vtp-abr-browser-'));
  for (const name of PROFILE_NAMES) await mkdir(path.join(dir, name));
  // The hls muxer writes files when its output is a path; every segment stays listed.
  const args = ladderArguments({
    source: { kind: 'test-pattern' },
    preset: LADDER_PRESETS.light,
    ingestUrl: dir,
    durationSec,
  })
    .filter((arg) => arg !== '-re')
    .map((arg, i, all) => (all[i - 1] === '-hls_list_size' ? '0' : arg));
  const ffmpeg: ChildProcess = spawn(
    'nice',
    ['-n', '10', process.env.VTP_FFMPEG ?? 'ffmpeg', ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let ffmpegErr = '';
  ffmpeg.stderr?.on('data', (chunk: Buffer) => {
    ffmpegErr = (ffmpegErr + chunk.toString()).slice(-2000);
  });
  let encoding = true;
  const exited = new Promise<void>((resolve) => {
    ffmpeg.once('close', () => {
      encoding = false;
      resolve();
    });
  });

  let stopped = false;
  let count = 0;
  let wake: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const done = (async () => {
    const listed = {} as Record<ProfileName, Listed[]>;
    for (const name of PROFILE_NAMES) listed[name] = [];
    let firstAt: number | undefined;
    let dueMs = 0;
    for (let i = 0; !stopped; i++) {
      // Segment i is listed (so complete) in every rendition: the encoder is ahead of the pace.
      while (!stopped && PROFILE_NAMES.some((n) => listed[n].length <= i)) {
        const wasEncoding = encoding;
        for (const name of PROFILE_NAMES) listed[name] = await listedSegments(dir, name);
        if (PROFILE_NAMES.every((n) => listed[n].length > i)) break;
        if (!wasEncoding) {
          if (i < 3) throw new Error(`ffmpeg wrote ${i} segments: ${ffmpegErr}`);
          return; // the encode ran out: the stream ends there
        }
        await pause(100);
      }
      if (stopped) return;
      if (firstAt === undefined) {
        firstAt = performance.now();
      } else {
        // The encoder's pace: segment i is ready one duration after the one before it.
        dueMs += (listed.VeryLow[i - 1] as Listed).duration * 1000;
        const waitMs = dueMs - (performance.now() - firstAt);
        if (waitMs > 0) await pause(waitMs);
        if (stopped) return;
      }
      await Promise.all(
        PROFILE_NAMES.map(async (name) => {
          const all = listed[name];
          const segment = all[i] as Listed;
          const bytes = new Uint8Array(await readFile(path.join(dir, name, segment.file)));
          const first = Math.max(0, i + 1 - PUSHED_PLAYLIST_SEGMENTS);
          const target = Math.ceil(Math.max(...all.slice(0, i + 1).map((s) => s.duration)));
          let text = `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:${target}\n#EXT-X-MEDIA-SEQUENCE:${first}\n`;
          for (const s of all.slice(first, i + 1))
            text += `#EXTINF:${s.duration.toFixed(6)},\n${s.file}\n`;
          for (const base of bases) {
            await put(`${base}/ingest/${recordingId}/${name}/${segment.file}`, bytes);
            await put(`${base}/ingest/${recordingId}/${name}/index.m3u8`, text);
          }
        }),
      );
      count = i + 1;
    }
  })();

  return {
    pushed: () => count,
    done,
    async stop() {
      stopped = true;
      wake?.();
      if (encoding) ffmpeg.kill('SIGKILL');
      await exited;
      await done.catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Players

/**
 * A plain hls.js page with hls.js's own ABR, configured as the player page (src/web/watch.js)
 * configures its player (three segments behind the live edge) but steered by nobody: it sends
 * no reports and no CMCD. Its player is `window.hls`.
 */
const PLAIN_PAGE = playerPage(`
  const hls = (window.hls = new Hls({ liveSyncDurationCount: 3 }));
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
  hls.loadSource(new URLSearchParams(location.search).get('src'));
  hls.attachMedia(video);
`);

/** An origin on the loopback serving the plain hls.js page: `${origin}/?src=URL`. */
export function startPlainPlayerPages(): Promise<{ origin: string; close(): Promise<void> }> {
  return startPageOrigin(PLAIN_PAGE);
}

/**
 * Runs in every page before its own scripts: finds the page's hls.js player (the player page's
 * `window.vtp.hls`, the plain page's `window.hls`) and its video element as soon as they exist
 * and records, with wall-clock times, the video's `waiting`/`playing`, hls.js's LEVEL_SWITCHED
 * (the level now playing), FRAG_LOADED and ERROR, and once a second the level playing, the
 * playhead, the buffer ahead and the latency to live (wall clock - hls.playingDate). A string,
 * not a function, so that nothing of the test's compiler reaches the page.
 */
const COLLECTOR = `(() => {
  const rec = (window.__abr = {
    attachedAt: null, events: [], switches: [], frags: [], errors: [], samples: [],
  });
  const profileOf = (hls, index) => {
    const level = hls.levels && hls.levels[index];
    if (!level) return null;
    const url = String(level.url || level.uri || '');
    const found = ${JSON.stringify(PROFILE_NAMES)}.find((p) => url.includes('/' + p + '/'));
    return found || level.name || String(index);
  };
  const attach = (hls, video) => {
    rec.attachedAt = Date.now();
    const E = window.Hls.Events;
    let playing = null;
    for (const type of ['waiting', 'playing']) {
      video.addEventListener(type, () =>
        rec.events.push({ type, at: Date.now(), time: video.currentTime }));
    }
    hls.on(E.LEVEL_SWITCHED, (_e, d) => {
      playing = profileOf(hls, d.level);
      rec.switches.push({ at: Date.now(), profile: playing });
    });
    hls.on(E.FRAG_LOADED, (_e, d) => {
      const s = d.frag.stats;
      rec.frags.push({
        at: Date.now(), sn: d.frag.sn, profile: profileOf(hls, d.frag.level),
        bytes: s.loaded, duration: d.frag.duration, loadMs: s.loading.end - s.loading.start,
      });
    });
    hls.on(E.ERROR, (_e, d) => {
      rec.errors.push({ at: Date.now(), type: d.type, details: d.details, fatal: !!d.fatal });
    });
    setInterval(() => {
      const t = video.currentTime;
      let ahead = 0;
      for (let i = 0; i < video.buffered.length; i++) {
        if (video.buffered.start(i) <= t + 0.1 && t <= video.buffered.end(i)) {
          ahead = video.buffered.end(i) - t;
        }
      }
      const date = hls.playingDate;
      rec.samples.push({
        at: Date.now(), time: t, paused: video.paused, profile: playing, ahead,
        latency: date ? (Date.now() - date.getTime()) / 1000 : null,
        estimateKbps: Math.round(hls.bandwidthEstimate / 1000),
      });
    }, 1000);
  };
  const find = setInterval(() => {
    const hls = (window.vtp && window.vtp.hls) || window.hls;
    const video = document.querySelector('video');
    if (!hls || !video || !window.Hls) return;
    clearInterval(find);
    attach(hls, video);
  }, 10);
})();`;

/** What the collector recorded in a page (times in ms since the epoch). */
export interface AbrRecord {
  readonly attachedAt: number | null;
  readonly events: readonly { type: 'waiting' | 'playing'; at: number; time: number }[];
  /** LEVEL_SWITCHED: from `at` the player plays `profile`. */
  readonly switches: readonly { at: number; profile: string | null }[];
  readonly frags: readonly {
    at: number;
    sn: number;
    profile: string | null;
    bytes: number;
    duration: number;
    loadMs: number;
  }[];
  readonly errors: readonly { at: number; type: string; details: string; fatal: boolean }[];
  readonly samples: readonly {
    at: number;
    time: number;
    paused: boolean;
    profile: string | null;
    ahead: number;
    latency: number | null;
    estimateKbps: number;
  }[];
}

export interface AbrPage {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Throttles the page's downloads to `mbps` (DevTools network emulation, 40 ms added). */
  throttle(mbps: number): Promise<void>;
  record(): Promise<AbrRecord>;
  close(): Promise<void>;
}

/**
 * Opens `url` in a context of its own (network conditions are per page; nothing shared with
 * another player), the browser's cache off, throttled to `mbps` from its first request, with
 * the collector installed. DevTools emulation shapes what the page receives, inside the browser:
 * the server still writes at loopback speed.
 */
export async function openAbrPage(browser: Browser, url: string, mbps: number): Promise<AbrPage> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp: CDPSession = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const throttle = async (to: number) => {
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: ADDED_LATENCY_MS,
      downloadThroughput: (to * 1e6) / 8,
      uploadThroughput: -1,
    });
  };
  await throttle(mbps);
  await page.addInitScript({ content: COLLECTOR });
  await page.goto(url);
  return {
    page,
    context,
    throttle,
    record: () => page.evaluate(() => (window as any).__abr as AbrRecord),
    close: () => context.close(),
  };
}

/** True once the page's video has played START_MEDIA_SEC past its first `playing`. */
async function playbackStarted(page: AbrPage): Promise<boolean> {
  const record = await page.record();
  const first = record.events.find((e) => e.type === 'playing');
  const last = record.samples.at(-1);
  return first !== undefined && last !== undefined && last.time - first.time >= START_MEDIA_SEC;
}

// ---------------------------------------------------------------------------------------------
// Figures

/** One run's figures over the trace's window. */
export interface AbrFigures {
  readonly windowSec: number;
  /** Media the playhead advanced over the window, s. */
  readonly mediaSec: number;
  /** Times the video waited (a `waiting` once playing) within the window. */
  readonly stalls: number;
  readonly stalledSec: number;
  /** Nominal Mbps (the profiles' bitrates) of the level playing, over the seconds shown. */
  readonly avgMbps: number;
  /** Real bitrate of the fragments loaded in the window (their bytes over their duration). */
  readonly loadedMbps: number;
  /** Level changes played (LEVEL_SWITCHED to another profile). */
  readonly switches: number;
  /** (sum of nominal Mbps shown each second - 4.3 x stalled s - sum of |Mbps changes|) / minutes. */
  readonly qoeLinPerMin: number;
  /** Mean of wall clock - hls.playingDate, s. */
  readonly latencySec: number;
  readonly fatalErrors: readonly string[];
  /** Fragment loads hls.js abandoned in the window (a level switch flushing, an ABR abandon). */
  readonly abortedLoads: number;
  /** Profiles played in the window, in order, without repeats of the one before. */
  readonly played: readonly string[];
  /** One letter a second (V, L, M, H; `_` stalled, `.` nothing known). */
  readonly timeline: string;
}

const nominalMbps = (profile: string | null | undefined) =>
  profile && Object.hasOwn(PROFILES, profile)
    ? PROFILES[profile as ProfileName].bitrateKbps / 1000
    : 0;

/** Stall intervals [from, to) from the video's events: a `waiting` after the first `playing`. */
function stallIntervals(record: AbrRecord): { from: number; to: number }[] {
  const out: { from: number; to: number }[] = [];
  let started = false;
  let from: number | undefined;
  for (const e of record.events) {
    if (e.type === 'playing') {
      if (from !== undefined) out.push({ from, to: e.at });
      from = undefined;
      started = true;
    } else if (started && from === undefined) {
      from = e.at;
    }
  }
  if (from !== undefined) out.push({ from, to: Number.POSITIVE_INFINITY });
  return out;
}

/** The figures of `record` over [fromMs, toMs). */
export function abrFigures(record: AbrRecord, fromMs: number, toMs: number): AbrFigures {
  const windowSec = (toMs - fromMs) / 1000;
  const inWindow = (at: number) => at >= fromMs && at < toMs;
  const stalls = stallIntervals(record);
  const stalledSec =
    stalls.reduce((a, s) => a + Math.max(0, Math.min(s.to, toMs) - Math.max(s.from, fromMs)), 0) /
    1000;
  const stalledAt = (at: number) => stalls.some((s) => at >= s.from && at < s.to);

  const samples = record.samples.filter((s) => inWindow(s.at));
  const shown = samples.filter((s) => !stalledAt(s.at) && !s.paused && s.profile !== null);
  const shownMbps = shown.reduce((a, s) => a + nominalMbps(s.profile), 0);

  let before = [...record.switches].reverse().find((s) => s.at < fromMs)?.profile ?? null;
  const played: string[] = before === null ? [] : [before];
  let switches = 0;
  let changeMbps = 0;
  for (const s of record.switches.filter((x) => inWindow(x.at))) {
    if (s.profile === before) continue;
    if (before !== null) {
      switches++;
      changeMbps += Math.abs(nominalMbps(s.profile) - nominalMbps(before));
    }
    if (s.profile !== null) played.push(s.profile);
    before = s.profile;
  }

  const frags = record.frags.filter((f) => inWindow(f.at));
  const fragSec = frags.reduce((a, f) => a + f.duration, 0);
  const latencies = samples.map((s) => s.latency).filter((l): l is number => l !== null);
  const timeline = samples.map((s) => (stalledAt(s.at) ? '_' : (s.profile?.[0] ?? '.'))).join('');
  const first = samples[0];
  const last = samples.at(-1);
  return {
    windowSec,
    mediaSec: first && last ? last.time - first.time : 0,
    stalls: stalls.filter((s) => inWindow(s.from)).length,
    stalledSec,
    avgMbps: shown.length > 0 ? shownMbps / shown.length : 0,
    loadedMbps: fragSec > 0 ? (frags.reduce((a, f) => a + f.bytes, 0) * 8) / fragSec / 1e6 : 0,
    switches,
    // Samples come once a second, so their sum is Mbps x seconds shown.
    qoeLinPerMin: (shownMbps - REBUFFER_PENALTY * stalledSec - changeMbps) / (windowSec / 60),
    latencySec:
      latencies.length > 0 ? latencies.reduce((a, b) => a + b, 0) / latencies.length : NaN,
    fatalErrors: record.errors.filter((e) => e.fatal).map((e) => `${e.type}/${e.details}`),
    abortedLoads: record.errors.filter((e) => inWindow(e.at) && e.details === 'aborted').length,
    played,
    timeline,
  };
}

// ---------------------------------------------------------------------------------------------
// One trace, several players side by side

/** A player to run: a name for the tables, the page's URL, and what to read before it closes. */
export interface AbrMode<Extra = unknown> {
  readonly name: string;
  readonly url: string;
  readonly inspect?: (page: Page) => Promise<Extra>;
}

export interface AbrRun<Extra = unknown> {
  readonly trace: string;
  readonly mode: string;
  /** False when the player did not start playing within the start timeout. */
  readonly started: boolean;
  readonly figures: AbrFigures;
  readonly record: AbrRecord;
  readonly extra: Extra | undefined;
}

/**
 * Runs every mode's page at once under `trace`: each opens throttled to the trace's first step;
 * once all have started playing (or `startTimeoutMs` passed) the trace runs from its start on
 * every page at the same moment, and the figures cover that window. Pages are closed on return.
 */
export async function runTrace<Extra>(
  browser: Browser,
  trace: AbrTrace,
  modes: readonly AbrMode<Extra>[],
  startTimeoutMs = 30_000,
): Promise<AbrRun<Extra>[]> {
  const first = trace.steps[0]?.mbps ?? 1;
  const pages: AbrPage[] = [];
  try {
    for (const mode of modes) pages.push(await openAbrPage(browser, mode.url, first));
    const started = await Promise.all(
      pages.map((p) =>
        waitFor(
          async () => ((await playbackStarted(p)) ? true : undefined),
          startTimeoutMs,
          'start',
          250,
        ).catch(() => false),
      ),
    );
    const fromMs = Date.now();
    await driveTrace(
      trace,
      pages.map((p) => p.throttle),
    ).done;
    const toMs = Date.now();
    const runs: AbrRun<Extra>[] = [];
    for (const [i, mode] of modes.entries()) {
      const page = pages[i] as AbrPage;
      const record = await page.record();
      runs.push({
        trace: trace.name,
        mode: mode.name,
        started: started[i] === true,
        figures: abrFigures(record, fromMs, toMs),
        record,
        extra: mode.inspect ? await mode.inspect(page.page) : undefined,
      });
    }
    return runs;
  } finally {
    await Promise.all(pages.map((p) => p.close().catch(() => {})));
  }
}

/** Markdown table of runs: trace, mode, stalls, stalled s, avg Mbps, switches, QoE_lin/min, latency s. */
export function abrTable(runs: readonly AbrRun[]): string {
  const rows = [
    '| trace | mode | stalls | stalled s | avg Mbps | loaded Mbps | switches | QoE_lin /min | latency s |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of runs) {
    const f = r.figures;
    rows.push(
      `| ${r.trace} | ${r.mode} | ${f.stalls} | ${f.stalledSec.toFixed(1)} | ${f.avgMbps.toFixed(2)} | ${f.loadedMbps.toFixed(2)} | ${f.switches} | ${f.qoeLinPerMin.toFixed(1)} | ${Number.isFinite(f.latencySec) ? f.latencySec.toFixed(1) : 'n/a'} |`,
    );
  }
  return rows.join('\n');
}

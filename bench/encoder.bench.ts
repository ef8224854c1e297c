/**
 * npm run bench:encoder: the built-in ladder encoder's real-time factor on this machine, per
 * preset, running next to the server (in this process) that ingests and serves its output,
 * and for the light preset also next to a headless Chromium playing the stream. The baseline is
 * real time itself: a factor of 1.00 means the encoder keeps up.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PresetName } from '../src/ingest/encoder-manager.js';
import { LADDER_PRESETS } from '../src/ingest/ffmpeg-ladder.js';
import { ffprobeMedia } from '../src/ingest/media-probe.js';
import { createRuntime } from '../src/server.js';
import { launchChromium } from '../test/helpers/browser.js';
import { processTreeCpuSeconds } from './viewers/process-cpu.js';

const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 6);
const MEASURE_S = Number(process.env.BENCH_MEASURE_S ?? 20);

interface Row {
  readonly preset: PresetName;
  readonly withBrowser: boolean;
  readonly meanSpeed: number;
  readonly minSpeed: number;
  readonly behindSamples: number;
  readonly samples: number;
  readonly ffmpegCpuPercent: number;
  readonly restarts: number;
}

async function measure(preset: PresetName, withBrowser: boolean): Promise<Row> {
  const runtime = createRuntime({ ingest: { probe: ffprobeMedia() } });
  const url = await runtime.listen('127.0.0.1', 0);
  const browser = withBrowser ? await launchChromium() : undefined;
  try {
    const job = runtime.encoders.start({
      recordingId: 'bench',
      source: { type: 'test-pattern' },
      preset,
    });
    await sleep(WARMUP_S * 1000);
    if (browser) {
      const page = await browser.browser.newPage();
      await page.goto(`${url}/watch/bench`);
    }
    const pid = runtime.encoders.get(job.jobId).pid;
    const cpuStart = pid ? processTreeCpuSeconds(pid) : 0;
    const speeds: number[] = [];
    let behind = 0;
    for (let i = 0; i < MEASURE_S; i++) {
      await sleep(1000);
      const status = runtime.encoders.get(job.jobId);
      if (status.speed !== undefined) speeds.push(status.speed);
      if (status.behind) behind++;
    }
    const cpu = pid ? processTreeCpuSeconds(pid) - cpuStart : 0;
    const status = runtime.encoders.get(job.jobId);
    return {
      preset,
      withBrowser,
      meanSpeed: speeds.reduce((a, b) => a + b, 0) / Math.max(1, speeds.length),
      minSpeed: Math.min(...speeds),
      behindSamples: behind,
      samples: speeds.length,
      ffmpegCpuPercent: (cpu / MEASURE_S) * 100,
      restarts: status.restarts,
    };
  } finally {
    await browser?.close();
    await runtime.close(2000);
  }
}

const runs: [PresetName, boolean][] = [
  ['light', false],
  ['light', true],
  ['full', false],
  ['full', true],
];
const rows: Row[] = [];
for (const [preset, withBrowser] of runs) {
  console.error(
    `[bench:encoder] ${preset}${withBrowser ? ' + Chromium playing' : ''}: ${WARMUP_S} s warm-up, ${MEASURE_S} s measured`,
  );
  rows.push(await measure(preset, withBrowser));
}

console.log(
  '| preset | frame sizes, fps | next to | real-time factor (mean) | min | samples behind | ffmpeg CPU % of a core |',
);
console.log('|---|---|---|---:|---:|---:|---:|');
for (const r of rows) {
  const p = LADDER_PRESETS[r.preset];
  const sizes = Object.values(p.sizes)
    .map(([, h]) => `${h}p`)
    .join('/');
  console.log(
    `| ${r.preset} | ${sizes} @ ${p.fps} | server${r.withBrowser ? ' + Chromium playing' : ''} | ${r.meanSpeed.toFixed(3)} | ${r.minSpeed.toFixed(3)} | ${r.behindSamples}/${r.samples} | ${r.ffmpegCpuPercent.toFixed(0)} |`,
  );
}

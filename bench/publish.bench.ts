/**
 * npm run bench:publish: what publishing from OBS costs and how soon it plays (issue 12). For 1
 * and 4 simultaneous publishers (ffmpeg sending as OBS does: x264 CBR 640x360 30 fps 1500 kb/s,
 * 2 s keyframes, zerolatency, no B-frames, AAC) into a server in this process, it reports the
 * time from each publisher's spawn to its playable stream (four probed renditions, each with a
 * segment) and, over a steady window once all play, the CPU of the RTMP child per publisher.
 * The baseline is measured in the same run: the publishers' own ffmpeg and the light ladder
 * each publish starts, which dominates; RTMP child / ladder is what relaying adds to encoding.
 * Ladders that cannot keep real time (several on two cores) show in their speed and in the
 * samples they were behind. Writes bench/.cache/publish-result.json.
 *
 * Options: --seconds N (steady window, default 20), --publishers 1,4, --playable-timeout N.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  PUBLISH_BENCH_USAGE,
  type PublishBenchOptions,
  parsePublishBenchOptions,
} from './publish/options.js';
import { markdownTable, type RoundResult, summariseRound } from './publish/report.js';
import { PUBLISHED, runRound } from './publish/round.js';

const RESULT = fileURLToPath(new URL('./.cache/publish-result.json', import.meta.url));

let options: PublishBenchOptions;
try {
  options = parsePublishBenchOptions(process.argv.slice(2));
} catch (error) {
  console.error(`${(error as Error).message}\n${PUBLISH_BENCH_USAGE}`);
  process.exit(2);
}

const log = (line: string) => console.error(`[bench:publish] ${line}`);
const rounds: RoundResult[] = [];
for (const publishers of options.publishers) {
  log(`${publishers} publisher(s): ${options.seconds} s steady window`);
  const measured = await runRound({
    publishers,
    windowSeconds: options.seconds,
    playableTimeoutSeconds: options.playableTimeoutSeconds,
    log,
  });
  rounds.push(summariseRound(measured));
}

console.log(markdownTable(rounds));
await mkdir(fileURLToPath(new URL('./.cache/', import.meta.url)), { recursive: true });
const cpu = os.cpus()[0]?.model ?? 'unknown';
await writeFile(
  RESULT,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: { cpu, cores: os.availableParallelism() },
      published: { size: PUBLISHED.size, fps: PUBLISHED.fps, video_kbps: PUBLISHED.videoKbps },
      preset: 'light',
      window_s: options.seconds,
      rounds,
    },
    null,
    2,
  )}\n`,
);
log(`wrote ${RESULT}`);

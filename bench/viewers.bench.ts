/**
 * Viewer load benchmark: N simulated HLS viewers on loopback against nginx and VTP Live, each
 * serving the same live ladder, one row after the other in the same run so every row has an
 * nginx baseline. Run: node --import tsx bench/viewers.bench.ts [--help].
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { hasBinary } from './viewers/child-process.js';
import { type BenchConfig, ConfigError, loadConfig, usage } from './viewers/config.js';
import { ensureLadder, loadLadder } from './viewers/ladder-cache.js';
import { type Measurement, measureTarget } from './viewers/measure-target.js';
import { raisePriority } from './viewers/priority.js';
import { markdown, type ResultRow, toRow } from './viewers/report.js';
import { RowSkipped } from './viewers/row-skipped.js';
import { TARGET_LABELS } from './viewers/targets.js';
import { installSignalTeardown } from './viewers/teardown.js';

const CACHE_DIR = fileURLToPath(new URL('./.cache/', import.meta.url));
const RESULT_PATH = `${CACHE_DIR}viewers-result.json`;
const log = (line: string) => console.error(`[bench:viewers] ${line}`);

class SetupError extends Error {}

async function checkTools(config: BenchConfig): Promise<void> {
  const missing: string[] = [];
  if (!(await hasBinary('ffmpeg', ['-version']))) missing.push('ffmpeg');
  if (config.targets.includes('nginx') && !(await hasBinary('nginx', ['-v'])))
    missing.push('nginx');
  if (missing.length > 0) {
    throw new SetupError(
      `${missing.join(' and ')} not found on PATH: install with apt-get install -y nginx-light ffmpeg`,
    );
  }
}

async function main(): Promise<number> {
  let config: BenchConfig | 'help';
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`bench:viewers: ${error.message}\n${usage()}`);
    return 2;
  }
  if (config === 'help') {
    console.log(usage());
    return 0;
  }
  if (config.priority !== 0) {
    try {
      raisePriority(config.priority);
    } catch (error) {
      throw new SetupError(
        `--priority ${config.priority}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  installSignalTeardown(log);
  await checkTools(config);
  await mkdir(CACHE_DIR, { recursive: true });
  const ladderDir = await ensureLadder(
    { cacheDir: CACHE_DIR, seconds: config.ladderSeconds, preset: config.preset },
    log,
  );
  const ladder = await loadLadder(ladderDir);
  const rows: ResultRow[] = [];
  const failures: string[] = [];
  const skipped: string[] = [];
  // A target that cannot start fails (or is skipped) the same way for every viewer count.
  const excluded = new Set<string>();
  // Viewer counts outside, targets inside: each row's nginx baseline is measured just before it.
  for (const viewers of config.viewerCounts) {
    for (const target of config.targets) {
      if (excluded.has(target)) continue;
      const label = TARGET_LABELS[target];
      let measurement: Measurement;
      try {
        measurement = await measureTarget(target, viewers, ladder, config, log);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        excluded.add(target);
        if (error instanceof RowSkipped) {
          skipped.push(`${label}: ${reason}`);
          log(`SKIPPED ${label}: ${reason}`);
        } else {
          failures.push(`${label}: ${reason}`);
          log(`FAILED ${label} with ${viewers} viewers: ${reason}`);
        }
        continue;
      }
      const row = toRow(measurement);
      rows.push(row);
      log(
        `${row.target} ${row.viewers}: ${row.requestsPerSec.toFixed(0)} req/s, p99 ${row.p99Ms.toFixed(1)} ms, errors ${row.errors}, target CPU ${row.targetCpuPercentOfCore.toFixed(0)} %, generator CPU ${row.generatorCpuPercentOfCore.toFixed(0)} %`,
      );
    }
  }
  console.log(markdown(rows));
  if (skipped.length > 0) console.log(`\nSkipped: ${skipped.join('; ')}`);
  if (failures.length > 0) console.log(`\nFailed: ${failures.join('; ')}`);
  const result = {
    generatedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version },
    cpuMethod:
      'target: utime+stime (reaped children included) of every process of the target (server tree, nginx master and workers, edges) from /proc/<pid>/stat; generator: utime+stime of the load-generator child processes; publisher: process.cpuUsage() of the bench process (live replayer and coordinator); all over the measured window',
    config,
    rows,
    skipped,
    failures,
  };
  await writeFile(RESULT_PATH, `${JSON.stringify(result, null, 2)}\n`);
  log(`wrote ${RESULT_PATH}`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench:viewers: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);

/** Bench settings: flags win over BENCH_* environment variables, which win over defaults. */
import { parseArgs } from 'node:util';
import type { ConnectionMode } from './swarm-protocol.js';

/** nginx: the baseline; vtp: one server process; vtp-multi: `serve --processes N`; vtp-edges: two nginx edges in front. */
export const TARGET_NAMES = ['nginx', 'vtp', 'vtp-multi', 'vtp-edges'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface BenchConfig {
  readonly viewerCounts: readonly number[];
  readonly targets: readonly TargetName[];
  readonly warmupSeconds: number;
  readonly measureSeconds: number;
  readonly generators: number;
  readonly connections: ConnectionMode;
  /** `--processes` handed to the multi-core row's server. */
  readonly processes: number;
  /** More `serve` flags for the multi-core row (e.g. shared state), split on spaces. */
  readonly multiArgs: readonly string[];
  /** Nice value of the bench and everything it starts (0 leaves it as it is). */
  readonly priority: number;
  readonly mix: readonly number[];
  readonly startSegments: number;
  readonly requestTimeoutSeconds: number;
  readonly preset: string;
  readonly ladderSeconds: number;
}

interface Setting {
  readonly flag: string;
  readonly env: string;
  readonly fallback: string;
  readonly help: string;
}

const SETTINGS = {
  viewers: { flag: 'viewers', env: 'BENCH_VIEWERS', fallback: '5000,10000', help: 'viewer counts' },
  targets: {
    flag: 'targets',
    env: 'BENCH_TARGETS',
    fallback: 'nginx,vtp,vtp-multi,vtp-edges',
    help: `rows to run, of ${TARGET_NAMES.join(',')}`,
  },
  warmup: { flag: 'warmup', env: 'BENCH_WARMUP_S', fallback: '8', help: 'warm-up seconds' },
  measure: { flag: 'measure', env: 'BENCH_MEASURE_S', fallback: '20', help: 'measured seconds' },
  generators: {
    flag: 'generators',
    env: 'BENCH_GENERATORS',
    fallback: '1',
    help: 'load-generator processes',
  },
  connections: {
    flag: 'connections',
    env: 'BENCH_CONNECTIONS',
    fallback: 'per-viewer',
    help: 'per-viewer (one keep-alive connection each), or N shared by all viewers',
  },
  processes: {
    flag: 'processes',
    env: 'BENCH_PROCESSES',
    fallback: '2',
    help: 'server processes of the vtp-multi row (serve --processes N)',
  },
  priority: {
    flag: 'priority',
    env: 'BENCH_PRIORITY',
    fallback: '0',
    help: 'nice value of the bench, its targets and generators alike (-20..19; below 0 needs root)',
  },
  multiArgs: {
    flag: 'multi-args',
    env: 'BENCH_MULTI_ARGS',
    fallback: '',
    help: 'more serve flags for the vtp-multi row, space-separated',
  },
  mix: {
    flag: 'mix',
    env: 'BENCH_MIX',
    fallback: '40,30,20,10',
    help: 'weights of VeryLow,Low,Medium,High',
  },
  startSegments: {
    flag: 'start-segments',
    env: 'BENCH_START_SEGMENTS',
    fallback: '1',
    help: 'segments a viewer fetches back from the edge when it starts',
  },
  timeout: { flag: 'timeout', env: 'BENCH_TIMEOUT_S', fallback: '10', help: 'request timeout s' },
  preset: { flag: 'preset', env: 'BENCH_PRESET', fallback: 'veryfast', help: 'x264 preset' },
  ladderSeconds: {
    flag: 'ladder-seconds',
    env: 'BENCH_LADDER_S',
    fallback: '60',
    help: 'seconds of test pattern encoded (loops)',
  },
} as const satisfies Record<string, Setting>;

export class ConfigError extends Error {}

/** `--flag value` / `BENCH_*` / default for every setting, then `--help` text. */
export function usage(): string {
  const rows = Object.values(SETTINGS).map(
    (s) =>
      `  --${s.flag.padEnd(15)} ${s.env.padEnd(21)} ${s.help} (default ${s.fallback || 'none'})`,
  );
  return ['usage: node --import tsx bench/viewers.bench.ts [options]', ...rows].join('\n');
}

function numbers(setting: Setting, raw: string, min: number): number[] {
  const values = raw.split(',').map((part) => Number(part.trim()));
  if (values.length === 0 || values.some((v) => !Number.isFinite(v) || v < min)) {
    throw new ConfigError(
      `--${setting.flag} / ${setting.env}: expected numbers >= ${min}, got "${raw}"`,
    );
  }
  return values;
}

function single(setting: Setting, raw: string, min: number): number {
  const [value, ...rest] = numbers(setting, raw, min);
  if (value === undefined || rest.length > 0) {
    throw new ConfigError(`--${setting.flag} / ${setting.env}: expected one number, got "${raw}"`);
  }
  return value;
}

/** Reads the config from `argv` (without node and script) and `env`; throws ConfigError. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): BenchConfig | 'help' {
  const options = Object.fromEntries(
    Object.values(SETTINGS).map((s) => [s.flag, { type: 'string' as const }]),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean' } },
      strict: true,
    });
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.values.help === true) return 'help';
  const raw = (s: Setting): string => {
    const flag = parsed.values[s.flag];
    return typeof flag === 'string' ? flag : (env[s.env] ?? s.fallback);
  };
  const targets = raw(SETTINGS.targets)
    .split(',')
    .map((t) => t.trim());
  for (const t of targets) {
    if (!(TARGET_NAMES as readonly string[]).includes(t)) {
      throw new ConfigError(
        `--targets / BENCH_TARGETS: unknown target "${t}" (${TARGET_NAMES.join(', ')})`,
      );
    }
  }
  const connectionsRaw = raw(SETTINGS.connections).trim();
  const pool = Number(connectionsRaw);
  if (connectionsRaw !== 'per-viewer' && !(Number.isInteger(pool) && pool >= 1)) {
    throw new ConfigError(
      `--connections / BENCH_CONNECTIONS: expected per-viewer or a whole number >= 1, got "${connectionsRaw}"`,
    );
  }
  const connections: ConnectionMode = connectionsRaw === 'per-viewer' ? 'per-viewer' : pool;
  const mix = numbers(SETTINGS.mix, raw(SETTINGS.mix), 0);
  if (mix.length !== 4 || mix.every((w) => w === 0)) {
    throw new ConfigError('--mix / BENCH_MIX: expected four weights, not all zero');
  }
  return {
    viewerCounts: numbers(SETTINGS.viewers, raw(SETTINGS.viewers), 1).map(Math.round),
    targets: targets as TargetName[],
    warmupSeconds: single(SETTINGS.warmup, raw(SETTINGS.warmup), 0),
    measureSeconds: single(SETTINGS.measure, raw(SETTINGS.measure), 1),
    generators: Math.round(single(SETTINGS.generators, raw(SETTINGS.generators), 1)),
    connections,
    processes: Math.round(single(SETTINGS.processes, raw(SETTINGS.processes), 1)),
    multiArgs: raw(SETTINGS.multiArgs).split(' ').filter(Boolean),
    priority: Math.round(single(SETTINGS.priority, raw(SETTINGS.priority), -20)),
    mix,
    startSegments: Math.round(single(SETTINGS.startSegments, raw(SETTINGS.startSegments), 1)),
    requestTimeoutSeconds: single(SETTINGS.timeout, raw(SETTINGS.timeout), 0.1),
    preset: raw(SETTINGS.preset),
    ladderSeconds: single(SETTINGS.ladderSeconds, raw(SETTINGS.ladderSeconds), 6),
  };
}

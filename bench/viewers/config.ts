/** Bench settings: flags win over BENCH_* environment variables, which win over defaults. */
import { parseArgs } from 'node:util';

export type TargetName = 'nginx' | 'vtp';

export interface BenchConfig {
  readonly viewerCounts: readonly number[];
  readonly targets: readonly TargetName[];
  readonly warmupSeconds: number;
  readonly measureSeconds: number;
  readonly workers: number;
  readonly connections: number;
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
  viewers: { flag: 'viewers', env: 'BENCH_VIEWERS', fallback: '1000,5000', help: 'viewer counts' },
  targets: {
    flag: 'targets',
    env: 'BENCH_TARGETS',
    fallback: 'nginx,vtp',
    help: 'nginx and/or vtp',
  },
  warmup: { flag: 'warmup', env: 'BENCH_WARMUP_S', fallback: '8', help: 'warm-up seconds' },
  measure: { flag: 'measure', env: 'BENCH_MEASURE_S', fallback: '20', help: 'measured seconds' },
  workers: { flag: 'workers', env: 'BENCH_WORKERS', fallback: '2', help: 'generator threads' },
  connections: {
    flag: 'connections',
    env: 'BENCH_CONNECTIONS',
    fallback: '256',
    help: 'keep-alive connections in total',
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
    (s) => `  --${s.flag.padEnd(15)} ${s.env.padEnd(21)} ${s.help} (default ${s.fallback})`,
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
    if (t !== 'nginx' && t !== 'vtp') {
      throw new ConfigError(`--targets / BENCH_TARGETS: unknown target "${t}" (nginx, vtp)`);
    }
  }
  const mix = numbers(SETTINGS.mix, raw(SETTINGS.mix), 0);
  if (mix.length !== 4 || mix.every((w) => w === 0)) {
    throw new ConfigError('--mix / BENCH_MIX: expected four weights, not all zero');
  }
  return {
    viewerCounts: numbers(SETTINGS.viewers, raw(SETTINGS.viewers), 1).map(Math.round),
    targets: targets as TargetName[],
    warmupSeconds: single(SETTINGS.warmup, raw(SETTINGS.warmup), 0),
    measureSeconds: single(SETTINGS.measure, raw(SETTINGS.measure), 1),
    workers: Math.round(single(SETTINGS.workers, raw(SETTINGS.workers), 1)),
    connections: Math.round(single(SETTINGS.connections, raw(SETTINGS.connections), 1)),
    mix,
    startSegments: Math.round(single(SETTINGS.startSegments, raw(SETTINGS.startSegments), 1)),
    requestTimeoutSeconds: single(SETTINGS.timeout, raw(SETTINGS.timeout), 0.1),
    preset: raw(SETTINGS.preset),
    ladderSeconds: single(SETTINGS.ladderSeconds, raw(SETTINGS.ladderSeconds), 6),
  };
}

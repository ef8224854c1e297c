/**
 * npm run bench:abr [-- --seed N]: every adaptation policy of ADAPTATION_POLICIES over the same
 * seeded traces (TRACE_MIX of TRACE_SEC s each) with the real ladder's segment sizes, through the
 * live player model. Prints per policy QoE_lin (mean and 5th percentile), rebuffer ratio (over all
 * traces, and over those that never fall below the lowest rendition), average bitrate, switches
 * per minute, latency to live and time at each profile, the ratios to the seed
 * rule and to BOLA, QoE_lin per trace kind, and writes bench/.cache/abr-result.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROFILE_NAMES } from '../../src/core/profiles.js';
import type { AdaptationPolicy } from '../../src/core/quality.js';
import { loadLadderSizes } from './ladder.js';
import { simulateSession } from './player.js';
import { type AggregateQoe, abrResult, aggregateQoe, type SessionQoe, sessionQoe } from './qoe.js';
import { generateTraces, type TraceKind } from './traces.js';

const RESULT = fileURLToPath(new URL('../.cache/abr-result.json', import.meta.url));

function seedArgument(): number {
  const at = process.argv.indexOf('--seed');
  if (at < 0) return 1;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value)) throw new Error('--seed takes an integer');
  return value;
}

async function policies(): Promise<{
  all: Readonly<Record<string, AdaptationPolicy>>;
  /** The policy the server uses when none is chosen. */
  fallback: string;
}> {
  try {
    const registry = await import('../../src/core/adaptation/index.js');
    return { all: registry.ADAPTATION_POLICIES, fallback: registry.DEFAULT_ADAPTATION_POLICY };
  } catch (error) {
    console.error(
      'bench:abr needs the policy registry ADAPTATION_POLICIES in src/core/adaptation/index.ts ' +
        `(name -> AdaptationPolicy); it could not be loaded: ${(error as Error).message}`,
    );
    process.exit(1);
  }
}

const fixed = (value: number, digits: number) =>
  Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const ratio = (a: number, b: number) =>
  b !== 0 && Number.isFinite(a / b) ? (a / b).toFixed(2) : 'n/a';

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
        .join('  '),
    )
    .join('\n');
}

async function main() {
  const { all: registry, fallback } = await policies();
  const seed = seedArgument();
  const sizes = await loadLadderSizes((line) => console.log(line));
  const traces = generateTraces(seed);
  const ladderLength = sizes.kbit.VeryLow.length;
  // Traces that never fall below the lowest rendition: there a policy can avoid every stall, so
  // their rebuffer ratio is the second figure (on the rest even always-VeryLow stalls).
  const lowestKbps = mean(sizes.kbit.VeryLow) / sizes.segmentSec;
  const aboveLowest = traces.map((trace) => Math.min(...trace.kbps) >= lowestKbps);
  const aboveCount = aboveLowest.filter(Boolean).length;
  const started = performance.now();
  const results = new Map<
    string,
    { all: AggregateQoe; above: AggregateQoe; byKind: Map<TraceKind, AggregateQoe> }
  >();
  for (const [name, policy] of Object.entries(registry)) {
    const sessions: { kind: TraceKind; qoe: SessionQoe }[] = traces.map((trace, i) => ({
      kind: trace.kind,
      qoe: sessionQoe(
        simulateSession(trace, policy, { sizes, sizeOffset: (i * 7) % ladderLength }),
      ),
    }));
    const byKind = new Map<TraceKind, AggregateQoe>();
    for (const kind of new Set(sessions.map((s) => s.kind))) {
      byKind.set(kind, aggregateQoe(sessions.filter((s) => s.kind === kind).map((s) => s.qoe)));
    }
    results.set(name, {
      all: aggregateQoe(sessions.map((s) => s.qoe)),
      above: aggregateQoe(sessions.filter((_, i) => aboveLowest[i]).map((s) => s.qoe)),
      byKind,
    });
  }
  const elapsed = performance.now() - started;
  // Not a policy: always the lowest profile, to show how much stalling no policy can avoid here.
  const lowest: AdaptationPolicy = {
    name: 'always-VeryLow',
    decide: () => ({ profile: 'VeryLow', reason: 'reference' }),
  };
  const floorSessions = traces.map((trace, i) =>
    sessionQoe(simulateSession(trace, lowest, { sizes, sizeOffset: (i * 7) % ladderLength })),
  );
  const floor = aggregateQoe(floorSessions);
  const floorAbove = aggregateQoe(floorSessions.filter((_, i) => aboveLowest[i]));
  const sessionCount = traces.length * results.size;

  console.log(
    `\n${traces.length} traces of ${traces[0]?.kbps.length ?? 0} s (seed ${seed}), ${results.size} policies: ` +
      `${sessionCount} sessions in ${(elapsed / 1000).toFixed(2)} s; real ladder mean kbps ` +
      PROFILE_NAMES.map(
        (p) =>
          `${p} ${(sizes.kbit[p].reduce((a, b) => a + b, 0) / sizes.kbit[p].length / sizes.segmentSec).toFixed(0)}`,
      ).join(', '),
  );
  const seedAll = results.get('seed')?.all;
  const bolaAll = results.get('bola')?.all;
  const rows: string[][] = [
    [
      'policy',
      'QoE mean',
      'QoE p5',
      'rebuffer %',
      'rebuf % >=VL',
      'avg kbps',
      'switch/min',
      'latency s',
      ...PROFILE_NAMES.map((p) => `${p} %`),
      'QoE/seed',
      'QoE/BOLA',
      'p5/seed',
      'switch/seed',
    ],
  ];
  for (const [name, { all, above }] of results) {
    rows.push([
      name,
      fixed(all.qoeMean, 1),
      fixed(all.qoeP5, 1),
      fixed(all.rebufferRatio * 100, 2),
      fixed(above.rebufferRatio * 100, 2),
      fixed(all.avgBitrateKbps, 0),
      fixed(all.switchesPerMin, 2),
      fixed(all.latencySecMean, 2),
      ...PROFILE_NAMES.map((p) => fixed(all.timeAtProfile[p] * 100, 1)),
      seedAll ? ratio(all.qoeMean, seedAll.qoeMean) : 'n/a',
      bolaAll ? ratio(all.qoeMean, bolaAll.qoeMean) : 'n/a',
      seedAll ? ratio(all.qoeP5, seedAll.qoeP5) : 'n/a',
      seedAll ? ratio(all.switchesPerMin, seedAll.switchesPerMin) : 'n/a',
    ]);
  }
  console.log(`\n${table(rows)}`);
  console.log(
    `reference, always VeryLow after the join (not a policy): rebuffer ${fixed(floor.rebufferRatio * 100, 2)} % ` +
      `(${fixed(floorAbove.rebufferRatio * 100, 2)} % >=VL), QoE mean ${fixed(floor.qoeMean, 1)}, p5 ${fixed(floor.qoeP5, 1)}`,
  );
  console.log(
    `rebuf % >=VL: rebuffer ratio over the ${aboveCount} traces whose bandwidth never falls below ` +
      `the lowest rendition (${lowestKbps.toFixed(0)} kbps)`,
  );

  const kinds = [...(results.values().next().value?.byKind.keys() ?? [])];
  const kindRows: string[][] = [['QoE_lin mean (rebuffer %)', ...kinds]];
  for (const [name, { byKind }] of results) {
    kindRows.push([
      name,
      ...kinds.map((k) => {
        const a = byKind.get(k);
        return a ? `${fixed(a.qoeMean, 1)} (${fixed(a.rebufferRatio * 100, 2)})` : 'n/a';
      }),
    ]);
  }
  console.log(`\n${table(kindRows)}`);

  const out = abrResult(
    [...results].map(([policy, { all, above }]) => [policy, all, above] as const),
    fallback,
  );
  await mkdir(path.dirname(RESULT), { recursive: true });
  await writeFile(RESULT, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(process.cwd(), RESULT)}`);
}

await main();

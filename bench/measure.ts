/** Small timing helpers shared by the benchmarks: batch timing and median of rounds. */

export interface Measurement {
  readonly name: string;
  readonly opsPerSec: number;
}

/** Runs `setup` then times `ops` calls of `op` per round; reports the median round in ops/s. */
export function measure<T>(
  name: string,
  ops: number,
  setup: () => T,
  op: (state: T, i: number) => unknown,
  rounds = 11,
): Measurement {
  const rates: number[] = [];
  let sink: unknown;
  // Round 0 warms the JIT up and is not counted.
  for (let r = 0; r <= rounds; r++) {
    const state = setup();
    // Collect the previous round's garbage now, not inside this round's timing.
    (globalThis as { gc?: () => void }).gc?.();
    const start = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) sink = op(state, i);
    const ns = Number(process.hrtime.bigint() - start);
    if (r > 0) rates.push((ops * 1e9) / ns);
  }
  if (sink === Symbol.for('never')) console.log(sink); // keeps the results observable
  rates.sort((a, b) => a - b);
  return { name, opsPerSec: rates[Math.floor(rates.length / 2)] ?? 0 };
}

/** As `measure`, for an operation that returns a promise (each awaited in turn). */
export async function measureAsync<T>(
  name: string,
  ops: number,
  setup: () => T,
  op: (state: T, i: number) => Promise<unknown>,
  rounds = 11,
): Promise<Measurement> {
  const rates: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    const state = setup();
    (globalThis as { gc?: () => void }).gc?.();
    const start = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) await op(state, i);
    const ns = Number(process.hrtime.bigint() - start);
    if (r > 0) rates.push((ops * 1e9) / ns);
  }
  rates.sort((a, b) => a - b);
  return { name, opsPerSec: rates[Math.floor(rates.length / 2)] ?? 0 };
}

/** Heap bytes held by what `build` returns, after full collections (needs --expose-gc). */
export function retainedBytes(build: () => unknown): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = build();
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  if (kept === undefined) throw new Error('build must return what it allocated');
  return after - before;
}

export function formatRate(opsPerSec: number): string {
  return Math.round(opsPerSec).toLocaleString('en-US');
}

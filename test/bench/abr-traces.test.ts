import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  generateTraces,
  MAX_KBPS,
  MIN_KBPS,
  markovTrace,
  mulberry32,
  TRACE_SEC,
} from '../../bench/abr/traces.js';

describe('ABR traces', () => {
  it('mulberry32 repeats for a seed and stays in [0, 1)', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const draws = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(
      Array.from({ length: 1000 }, () => b()),
      draws,
    );
    assert.ok(draws.every((x) => x >= 0 && x < 1));
    assert.notDeepEqual(Array.from({ length: 10 }, mulberry32(8)), draws.slice(0, 10));
  });

  it('a seed names the same traces, another seed other ones', () => {
    assert.deepEqual(generateTraces(42), generateTraces(42));
    assert.notDeepEqual(generateTraces(42), generateTraces(43));
  });

  it('at least 200 traces of 320 s within 0.2-6 Mbps (0 only inside an outage)', () => {
    const traces = generateTraces(1);
    assert.ok(traces.length >= 200, `${traces.length} traces`);
    assert.equal(new Set(traces.map((t) => t.name)).size, traces.length);
    for (const kind of ['markov', 'step', 'ramp', 'oscillating', 'outage']) {
      assert.ok(
        traces.some((t) => t.kind === kind),
        kind,
      );
    }
    for (const trace of traces) {
      assert.equal(trace.kbps.length, TRACE_SEC, trace.name);
      assert.ok(trace.rttMs >= 20 && trace.rttMs <= 150, trace.name);
      for (const kbps of trace.kbps) {
        const inBounds = kbps >= MIN_KBPS && kbps <= MAX_KBPS;
        assert.ok(inBounds || (trace.kind === 'outage' && kbps === 0), `${trace.name}: ${kbps}`);
      }
      if (trace.kind === 'outage') assert.ok(trace.kbps.includes(0), trace.name);
    }
  });

  it('the Markov chain jumps at least one state when it leaves one (the original could jump zero)', () => {
    // Two states, never staying, no noise: the trace alternates between them every second.
    const trace = markovTrace(
      { stayMeanSec: 1, noiseHoldSec: 1, cov: 0, states: 2, minKbps: 1000, maxKbps: 3000 },
      mulberry32(3),
      20,
    );
    for (let i = 1; i < trace.length; i++) assert.notEqual(trace[i], trace[i - 1]);
    assert.deepEqual(new Set(trace), new Set([1000, 3000]));
  });

  it('the Markov chain reaches every state, the top one included, and clamps its noise', () => {
    const means = [500, 1500, 2500, 3500, 4500];
    const seen = new Set<number>();
    const starts = new Set<number>();
    for (let seed = 0; seed < 20; seed++) {
      const quiet = markovTrace(
        { stayMeanSec: 2, noiseHoldSec: 1, cov: 0, states: 5, minKbps: 500, maxKbps: 4500 },
        mulberry32(seed),
        100,
      );
      for (const kbps of quiet) seen.add(kbps);
      starts.add(quiet[0] as number);
    }
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      means,
    );
    // The first second is the start state: the top one is possible there too.
    assert.ok(starts.has(4500), `start states: ${[...starts]}`);
    const noisy = markovTrace(
      { stayMeanSec: 10, noiseHoldSec: 1, cov: 2, states: 3, minKbps: 300, maxKbps: 5800 },
      mulberry32(5),
    );
    assert.ok(noisy.every((k) => k >= MIN_KBPS && k <= MAX_KBPS));
    assert.ok(noisy.includes(MIN_KBPS) && noisy.includes(MAX_KBPS), 'heavy noise hits both bounds');
  });
});

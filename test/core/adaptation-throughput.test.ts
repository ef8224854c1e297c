import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ewmaEstimateKbps,
  THROUGHPUT_POLICY,
  throughputPolicy,
} from '../../src/core/adaptation/throughput.js';
import type { ProfileName } from '../../src/core/profiles.js';

const decide = (current: ProfileName, throughputKbps: number[], sizes = {}) =>
  throughputPolicy.decide({
    current,
    bufferHealth: 50,
    throughputKbps,
    segmentDurationSec: 2,
    nextSegmentKbit: sizes,
  });

/** hls.js's EWMA in its own form: a biased average divided by its zero factor. */
function reference(samples: number[], halfLife: number): number {
  const alpha = Math.exp(Math.log(0.5) / halfLife);
  let biased = 0;
  for (const sample of samples) biased = sample * (1 - alpha) + alpha * biased;
  return biased / (1 - alpha ** samples.length);
}

describe('throughput policy (EWMA as hls.js)', () => {
  it('estimates a constant series as itself', () => {
    assert.equal(ewmaEstimateKbps([1500, 1500, 1500]), 1500);
    assert.equal(ewmaEstimateKbps([1000]), 1000);
  });

  it('takes the lower of the fast (3) and slow (9) averages: quick down, slow up', () => {
    const drop = [4000, 4000, 4000, 4000, 4000, 4000, 1000];
    const rise = [1000, 1000, 1000, 1000, 1000, 1000, 4000];
    assert.ok(Math.abs(ewmaEstimateKbps(drop) - reference(drop, 3)) < 1e-6);
    assert.ok(Math.abs(ewmaEstimateKbps(rise) - reference(rise, 9)) < 1e-6);
    assert.ok(reference(drop, 3) < reference(drop, 9));
    assert.ok(reference(rise, 9) < reference(rise, 3));
  });

  it('without samples uses the 500 kbps default, which fits only the lowest profile', () => {
    for (const current of ['VeryLow', 'High'] as const) {
      const decision = throughputPolicy.decide({ current, bufferHealth: 100 });
      assert.equal(decision.profile, 'VeryLow');
      assert.match(decision.reason, /default 500 kbps/);
    }
    assert.equal(decide('Medium', []).profile, 'VeryLow');
    assert.equal(THROUGHPUT_POLICY.defaultEstimateKbps, 500);
  });

  it('goes up only when 0.7 of the estimate carries the higher profile (below, at, above)', () => {
    const sizes = { Medium: 2800 }; // 1400 kbps = 0.7 x 2000
    assert.equal(decide('Low', [1999], sizes).profile, 'Low');
    assert.equal(decide('Low', [2000], sizes).profile, 'Medium');
    assert.equal(decide('Low', [2001], sizes).profile, 'Medium');
    assert.match(decide('Low', [2000], sizes).reason, /x 0\.7 >= Medium 1400 kbps/);
  });

  it('keeps or goes down with 0.95 of the estimate (below, at, above)', () => {
    const sizes = { Medium: 3800 }; // 1900 kbps = 0.95 x 2000
    assert.equal(decide('Medium', [1999], sizes).profile, 'Low');
    assert.equal(decide('Medium', [2000], sizes).profile, 'Medium');
    assert.equal(decide('Medium', [2001], sizes).profile, 'Medium');
    assert.equal(decide('High', [2000], sizes).profile, 'Medium');
    // The same estimate does not lift Low to Medium: going up takes the stricter 0.7.
    assert.equal(decide('Low', [2000], sizes).profile, 'Low');
  });

  it('picks the highest profile that fits on the nominal ladder', () => {
    assert.equal(decide('High', [4211]).profile, 'High'); // 0.95 x 4211 = 4000.45
    assert.equal(decide('High', [4210]).profile, 'Medium'); // 0.95 x 4210 = 3999.5
    assert.equal(decide('VeryLow', [5715]).profile, 'High'); // 0.7 x 5715 = 4000.5
    assert.equal(decide('VeryLow', [5714]).profile, 'Medium');
  });

  it('falls to the lowest profile in an outage', () => {
    const outage = decide('High', [0, 0, 0]);
    assert.equal(outage.profile, 'VeryLow');
    assert.match(outage.reason, /fits no profile/);
    // One zero sample after a good run pulls the fast average down at once.
    assert.equal(decide('High', [6000, 6000, 6000, 0]).profile, 'Medium');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SegmentRecord } from '../../bench/abr/player.js';
import { abrResult, aggregateQoe, percentile, sessionQoe } from '../../bench/abr/qoe.js';
import type { ProfileName } from '../../src/core/profiles.js';

const session = (profiles: ProfileName[], rebufferSec: number, watchSec: number) => ({
  segments: profiles.map(
    (profile, index): SegmentRecord => ({
      index,
      profile,
      kbit: 0,
      requestedSec: 0,
      doneSec: 0,
      reason: '',
    }),
  ),
  rebufferSec,
  watchSec,
  latencySecMean: 7,
});
const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual}, expected ${expected}`);

describe('ABR QoE', () => {
  it('QoE_lin of a tiny session, by hand', () => {
    // Bitrates 0.5 + 1 + 1 + 4 = 6.5; stalls 4.3 x 1.5 = 6.45; changes |1 - 0.5| + |4 - 1| = 3.5.
    const q = sessionQoe(session(['VeryLow', 'Low', 'Low', 'High'], 1.5, 60));
    close(q.qoeLin, 6.5 - 6.45 - 3.5, 'QoE_lin');
    close(q.rebufferRatio, 1.5 / 60, 'rebuffer ratio');
    close(q.avgBitrateKbps, 6500 / 4, 'average bitrate');
    assert.equal(q.switches, 2);
    close(q.switchesPerMin, 2, 'switches per minute');
    assert.deepEqual(q.timeAtProfile, { VeryLow: 0.25, Low: 0.5, Medium: 0, High: 0.25 });
    assert.equal(q.latencySecMean, 7);
  });

  it('aggregates: mean, 5th percentile, pooled rebuffer ratio and profile shares', () => {
    const a = sessionQoe(session(['High', 'High'], 0, 30)); // QoE 8
    const b = sessionQoe(session(['VeryLow', 'VeryLow'], 1, 90)); // QoE 1 - 4.3
    const all = aggregateQoe([a, b]);
    close(all.qoeMean, (8 + (1 - 4.3)) / 2, 'mean');
    close(all.qoeP5, 1 - 4.3, 'p5');
    close(all.rebufferRatio, 1 / 120, 'pooled rebuffer ratio');
    close(all.avgBitrateKbps, (4000 + 500) / 2, 'average bitrate');
    assert.deepEqual(all.timeAtProfile, { VeryLow: 0.5, Low: 0, Medium: 0, High: 0.5 });
  });

  it('percentile is nearest-rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.equal(percentile(values, 5), 5);
    assert.equal(percentile([3, 1, 2], 5), 1);
    assert.equal(percentile([3, 1, 2], 100), 3);
  });

  it('the result file carries exactly the agreed fields', () => {
    const all = aggregateQoe([sessionQoe(session(['Low', 'Medium'], 0.5, 60))]);
    const result = abrResult([['seed', all]], 'seed');
    assert.deepEqual(JSON.parse(JSON.stringify(result)), {
      policies: [
        {
          policy: 'seed',
          qoe_mean: 1 + 2 - 4.3 * 0.5 - 1,
          qoe_p5: 1 + 2 - 4.3 * 0.5 - 1,
          rebuffer_ratio: 0.5 / 60,
          avg_bitrate_kbps: 1500,
          switches_per_min: 1,
        },
      ],
      default: 'seed',
    });
  });
});

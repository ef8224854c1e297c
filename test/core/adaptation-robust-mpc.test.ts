import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { robustMpcPolicy, robustPrediction } from '../../src/core/adaptation/robust-mpc.js';
import type { ProfileName } from '../../src/core/profiles.js';

const close = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} != ${expected}`);

const decide = (current: ProfileName, bufferSec: number, throughputKbps: number[]) =>
  robustMpcPolicy.decide({
    current,
    bufferHealth: 0,
    bufferSec,
    throughputKbps,
    segmentDurationSec: 2,
  });

const steady = (kbps: number) => [kbps, kbps, kbps, kbps, kbps];

describe('RobustMPC throughput prediction', () => {
  it('predicts a steady link exactly, without discount', () => {
    assert.deepEqual(robustPrediction(steady(1500)), {
      harmonic: 1500,
      maxError: 0,
      predicted: 1500,
    });
  });

  it('discounts the harmonic mean by 1 + the largest error of predicting each sample', () => {
    // Predictions 1000, 1333.3, 1200 against 2000, 1000, 2000: errors 0.5, 0.333, 0.4.
    const p = robustPrediction([1000, 2000, 1000, 2000]);
    close(p.harmonic, 4000 / 3);
    close(p.maxError, 0.5);
    close(p.predicted, 4000 / 3 / 1.5);
  });

  it('looks back over five samples for the mean and five errors for the discount', () => {
    // Errors 0.9, 0.82, 0.75, 0.69, 0.64, 0, 0: the last five peak at 0.75 (predicted 250).
    const p = robustPrediction([100, 1000, 1000, 1000, 1000, 1000, 1000, 1000]);
    close(p.harmonic, 1000);
    close(p.maxError, 0.75);
    close(p.predicted, 1000 / 1.75);
  });

  it('predicts almost nothing when the window holds an outage', () => {
    assert.equal(robustPrediction([3000, 3000, 0]).harmonic, 0);
    assert.equal(robustPrediction([3000, 3000, 0]).predicted, 1);
  });
});

describe('RobustMPC policy (horizon five, QoE_lin)', () => {
  it('plays the lowest profile before any throughput is measured', () => {
    const decision = robustMpcPolicy.decide({ current: 'High', bufferHealth: 100 });
    assert.deepEqual(decision, { profile: 'VeryLow', reason: 'no throughput measured: lowest' });
    assert.equal(decide('Medium', 6, []).profile, 'VeryLow');
  });

  it('keeps High on a link that carries exactly High with a full buffer (QoE 5 x 4 = 20)', () => {
    const decision = decide('High', 6, steady(4000));
    assert.equal(decision.profile, 'High');
    assert.match(decision.reason, /plan QoE 20$/);
  });

  it('holds Low just below a link of 1000 kbps and with a reservoir-sized buffer', () => {
    assert.equal(decide('Low', 6, steady(999)).profile, 'Low');
    assert.equal(decide('Low', 2, steady(1000)).profile, 'Low');
  });

  it('drops to the lowest profile with an empty buffer even on a good link', () => {
    // Medium now would stall 2 s (QoE 10 - 8.6 = 1.4); VeryLow first stalls 0.5 s and then
    // Medium holds the buffer at 2 s: 8.5 - 2.15 - 3 = 3.35.
    const decision = decide('Medium', 0, steady(2000));
    assert.equal(decision.profile, 'VeryLow');
    assert.match(decision.reason, /plan QoE 3\.4$/);
    assert.equal(
      robustMpcPolicy.decide({ current: 'High', bufferHealth: 0, throughputKbps: steady(2000) })
        .profile,
      'VeryLow',
    );
  });

  it('climbs when the buffer is full and the link carries the next profile', () => {
    assert.equal(decide('Low', 6, steady(2000)).profile, 'Medium');
  });

  it('falls to the lowest profile in an outage', () => {
    assert.equal(decide('High', 6, [0, 0, 0]).profile, 'VeryLow');
    assert.equal(decide('High', 6, [4000, 4000, 4000, 0]).profile, 'VeryLow');
  });

  it('is more careful on a jittery link than on a steady one of the same harmonic mean', () => {
    // Harmonic mean 2000 both; predicting 1333 from 4000 errs by 200%, so 2000 / 3 = 667 kbps.
    const jittery = robustPrediction([4000, 4000 / 3, 4000, 4000 / 3]);
    close(jittery.harmonic, 2000);
    close(jittery.maxError, 2);
    close(jittery.predicted, 2000 / 3);
    assert.equal(decide('Medium', 4, steady(2000)).profile, 'Medium');
    assert.equal(decide('Medium', 4, [4000, 4000 / 3, 4000, 4000 / 3]).profile, 'Low');
  });
});

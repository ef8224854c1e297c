import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bolaParameters, bolaPolicy, bolaThresholds } from '../../src/core/adaptation/bola.js';
import type { ProfileName } from '../../src/core/profiles.js';

const close = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} != ${expected}`);

const decide = (current: ProfileName, bufferSec: number, throughputKbps: number[] = []) =>
  bolaPolicy.decide({ current, bufferHealth: 0, bufferSec, throughputKbps, segmentDurationSec: 2 });

/**
 * dash.js's parameters on a 6 s live buffer: minimum buffer 10/18 x 6 = 10/3 s, buffer time
 * max(6, 10/3 + 4 x 2/18 x 6) = 6 s; gp = ln 8 / (6 / (10/3) - 1) = ln 8 / 0.8, Vp = (10/3) / gp.
 * On a ladder that doubles, Low wins from Vp (gp - ln 2), Medium from Vp gp, High from Vp (gp + ln 2).
 */
describe('BOLA-BASIC policy (as dash.js, rescaled to a 6 s live buffer)', () => {
  const params = bolaParameters({ current: 'Low', bufferHealth: 0, segmentDurationSec: 2 });
  const gp = Math.log(8) / 0.8;
  const vp = 10 / 3 / gp;

  it("computes dash.js's gp and Vp from the buffer target and ln(bitrate / lowest) utilities", () => {
    close(params.gp, gp);
    close(params.vp, vp);
    close(params.minimumBufferSec, 10 / 3);
    params.utilities.forEach((u, i) => {
      close(u, i * Math.LN2);
    });
  });

  it('puts the band edges at 2.444, 3.333 and 4.222 s', () => {
    const edges = bolaThresholds(params);
    assert.equal(edges.length, 3);
    close(edges[0] as number, vp * (gp - Math.LN2));
    close(edges[1] as number, vp * gp);
    close(edges[2] as number, vp * (gp + Math.LN2));
    assert.deepEqual(
      edges.map((q) => Math.round(q * 1000) / 1000),
      [2.444, 3.333, 4.222],
    );
  });

  it('picks by buffer alone on each side of every edge (below, above)', () => {
    const cases: [number, ProfileName][] = [
      [0, 'VeryLow'],
      [2.444, 'VeryLow'],
      [2.445, 'Low'],
      [3.333, 'Low'],
      [3.334, 'Medium'],
      [4.222, 'Medium'],
      [4.223, 'High'],
      [6, 'High'],
    ];
    for (const [buffer, expected] of cases) {
      assert.equal(decide('VeryLow', buffer).profile, expected, `buffer ${buffer} s`);
      assert.equal(decide('High', buffer).profile, expected, `buffer ${buffer} s from High`);
    }
  });

  it('takes an empty buffer, or buffer health 0 without a buffer length, as the lowest profile', () => {
    assert.equal(decide('High', 0, [10000]).profile, 'VeryLow');
    assert.equal(bolaPolicy.decide({ current: 'High', bufferHealth: 0 }).profile, 'VeryLow');
    assert.equal(bolaPolicy.decide({ current: 'VeryLow', bufferHealth: 100 }).profile, 'High');
  });

  it('does not climb above both the current profile and what 0.9 of the throughput carries', () => {
    assert.equal(decide('Low', 5, []).profile, 'High'); // no samples: no guard
    assert.equal(decide('Low', 5, [5000]).profile, 'High'); // 4500 carries High
    assert.equal(decide('Low', 5, [2300]).profile, 'Medium'); // 2070 carries Medium
    const capped = decide('Low', 5, [1500]); // 1350 carries Low only
    assert.equal(capped.profile, 'Low');
    assert.match(capped.reason, /capped at Low by safe throughput 1350 kbps/);
    // An outage never pushes BOLA below the current profile; the buffer does that.
    assert.equal(decide('Low', 5, [0, 0]).profile, 'Low');
    assert.equal(decide('Low', 1, [0, 0]).profile, 'VeryLow');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bbaPolicy, bbaRate } from '../../src/core/adaptation/bba.js';
import type { ProfileName } from '../../src/core/profiles.js';

/**
 * Reservoir 2 s, cushion top 6 s; f(B) = 500 + 3500 x (B - 2) / 4 kbps. Segment sizes that put
 * Low at f(3) = 1375 kbps and Medium at f(4) = 2250 kbps make the band edges exact.
 */
const SIZES = { VeryLow: 1000, Low: 2750, Medium: 4500, High: 8000 };

const decide = (current: ProfileName, bufferSec: number, sizes: object = SIZES) =>
  bbaPolicy.decide({
    current,
    bufferHealth: 0,
    bufferSec,
    segmentDurationSec: 2,
    nextSegmentKbit: sizes,
  });

describe('BBA-0 policy', () => {
  it('maps the cushion linearly from the lowest to the highest rate', () => {
    const at = (bufferSec: number) =>
      bbaRate({ current: 'Low', bufferHealth: 0, bufferSec, nextSegmentKbit: SIZES }).rate;
    assert.deepEqual([1, 2, 3, 4, 5, 6, 9].map(at), [500, 500, 1375, 2250, 3125, 4000, 4000]);
  });

  it('plays the lowest profile at or below the 2 s reservoir, and with an empty buffer', () => {
    assert.equal(decide('High', 0).profile, 'VeryLow');
    assert.equal(decide('High', 1.999).profile, 'VeryLow');
    const atReservoir = decide('High', 2);
    assert.equal(atReservoir.profile, 'VeryLow');
    assert.equal(atReservoir.reason, 'buffer 2 s <= reservoir 2 s');
    // Just above: f = 500.9 <= Medium, so down to the lowest profile above f: Low.
    assert.equal(decide('High', 2.001).profile, 'Low');
  });

  it('plays the highest profile at or above the cushion top (6 s = three segments)', () => {
    assert.equal(decide('VeryLow', 6).profile, 'High');
    assert.equal(decide('VeryLow', 8).profile, 'High');
    // Just below: f = 3999.1 passes Low, so up to the highest profile under f: Medium.
    assert.equal(decide('VeryLow', 5.999).profile, 'Medium');
  });

  it('steps up only once f(B) passes the next rate up (below, at, above)', () => {
    assert.equal(decide('VeryLow', 2.999).profile, 'VeryLow');
    assert.equal(decide('VeryLow', 3).profile, 'VeryLow'); // f = Low's rate: none strictly below but VeryLow
    assert.equal(decide('VeryLow', 3.001).profile, 'Low');
    assert.equal(decide('Low', 4).profile, 'Low');
    const up = decide('Low', 4.001);
    assert.equal(up.profile, 'Medium');
    assert.match(up.reason, /maps to 2251 kbps: up to Medium/);
  });

  it('steps down only once f(B) reaches the next rate down (below, at, above)', () => {
    assert.equal(decide('Medium', 2.999).profile, 'Low');
    assert.equal(decide('Medium', 3).profile, 'Medium'); // f = Low's rate: lowest above f is Medium
    assert.equal(decide('Medium', 3.001).profile, 'Medium');
    assert.equal(decide('High', 3.999).profile, 'Medium');
    assert.equal(decide('High', 4).profile, 'High'); // f = Medium's rate: lowest above f is High
    assert.equal(decide('High', 4.001).profile, 'High');
    assert.equal(decide('High', 2.5).profile, 'Low'); // f = 937.5: skips Medium
  });

  it('holds between the rates around the current one', () => {
    const hold = decide('Low', 3.5);
    assert.equal(hold.profile, 'Low');
    assert.match(hold.reason, /hold Low/);
  });

  it('reads buffer health as a share of the live buffer when no buffer length is reported', () => {
    // Health 50 = 3 s on the nominal ladder: f = 1375 kbps passes Low (1000) from VeryLow.
    assert.equal(bbaPolicy.decide({ current: 'VeryLow', bufferHealth: 50 }).profile, 'Low');
    assert.equal(bbaPolicy.decide({ current: 'High', bufferHealth: 0 }).profile, 'VeryLow');
    assert.equal(bbaPolicy.decide({ current: 'VeryLow', bufferHealth: 100 }).profile, 'High');
  });
});

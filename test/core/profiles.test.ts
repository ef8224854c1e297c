import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isProfileName,
  PROFILE_NAMES,
  PROFILES,
  profileCaps,
  profilesAtOrBelow,
  stepDown,
  stepUp,
} from '../../src/core/profiles.js';

describe('delivery profiles', () => {
  it('carry every value of the seed table', () => {
    const rows = PROFILE_NAMES.map((name) => {
      const p = PROFILES[name];
      return [
        p.name,
        p.bitrateKbps,
        p.segmentDurationSec,
        p.bufferSegments,
        p.maxViewers,
        p.retryAttempts,
      ];
    });
    assert.deepEqual(rows, [
      ['VeryLow', 500, 2, 3, 100, 3],
      ['Low', 1000, 2, 4, 75, 3],
      ['Medium', 2000, 2, 5, 50, 3],
      ['High', 4000, 2, 6, 25, 2],
    ]);
  });

  it('keep timeouts within 5 to 7 s and compression levels 3 to 6, rising with bitrate', () => {
    const timeouts = PROFILE_NAMES.map((n) => PROFILES[n].timeoutMs);
    const levels = PROFILE_NAMES.map((n) => PROFILES[n].compressionLevel);
    assert.deepEqual(levels, [3, 4, 5, 6]);
    assert.equal(Math.min(...timeouts), 5000);
    assert.equal(Math.max(...timeouts), 7000);
    assert.deepEqual(
      [...timeouts].sort((a, b) => a - b),
      timeouts,
    );
  });

  it('step along the ladder and stop at its ends', () => {
    assert.equal(stepDown('VeryLow'), 'VeryLow');
    assert.equal(stepDown('High'), 'Medium');
    assert.equal(stepUp('High'), 'High');
    assert.equal(stepUp('VeryLow'), 'Low');
    assert.deepEqual(profilesAtOrBelow('Medium'), ['Medium', 'Low', 'VeryLow']);
  });

  it('recognise only the four case-sensitive names', () => {
    assert.ok(isProfileName('Medium'));
    for (const bad of ['medium', 'Ultra', '', 'toString', 42, null])
      assert.equal(isProfileName(bad), false);
  });

  it('scale per-profile caps with the stream cap, the seed table at 100 viewers', () => {
    assert.deepEqual(profileCaps(100), { VeryLow: 100, Low: 75, Medium: 50, High: 25 });
    assert.deepEqual(profileCaps(1000), { VeryLow: 1000, Low: 750, Medium: 500, High: 250 });
    assert.deepEqual(profileCaps(2), { VeryLow: 2, Low: 2, Medium: 1, High: 1 });
  });
});

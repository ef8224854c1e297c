import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProfileName } from '../../src/core/profiles.js';
import {
  checkBufferHealth,
  inferConnectionQuality,
  seedBufferPolicy,
} from '../../src/core/quality.js';

describe('seed buffer policy', () => {
  const cases: [number, ProfileName, ProfileName][] = [
    [0, 'High', 'VeryLow'],
    [19.9, 'High', 'VeryLow'],
    [19.9, 'Low', 'VeryLow'],
    [20, 'High', 'Medium'],
    [20, 'VeryLow', 'VeryLow'],
    [39.9, 'Medium', 'Low'],
    [40, 'Medium', 'Medium'],
    [85, 'Medium', 'Medium'],
    [85.1, 'Medium', 'High'],
    [85.1, 'High', 'High'],
    [100, 'VeryLow', 'Low'],
  ];
  for (const [buffer, current, expected] of cases) {
    it(`moves ${current} to ${expected} at buffer health ${buffer}`, () => {
      assert.equal(seedBufferPolicy.decide({ current, bufferHealth: buffer }).profile, expected);
    });
  }
});

describe('connection quality', () => {
  it('follows the adaptation bands: poor < 20 <= fair < 40 <= good <= 85 < excellent', () => {
    const seen = [0, 19.9, 20, 39.9, 40, 85, 85.1, 100].map(inferConnectionQuality);
    assert.deepEqual(seen, [
      'poor',
      'poor',
      'fair',
      'fair',
      'good',
      'good',
      'excellent',
      'excellent',
    ]);
  });

  it('rejects buffer health outside 0-100 or not finite, naming the field', () => {
    for (const bad of [-0.1, 100.1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => checkBufferHealth(bad), {
        code: 'INVALID_BUFFER_HEALTH',
        field: 'buffer_health',
      });
    }
    assert.equal(checkBufferHealth(0), 0);
    assert.equal(checkBufferHealth(100), 100);
  });
});

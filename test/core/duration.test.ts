import assert from 'node:assert/strict';
import { it } from 'node:test';
import { formatDuration } from '../../src/core/duration.js';

it('formats durations as Go does, rounded to seconds', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(1499), '1s');
  assert.equal(formatDuration(330_000), '5m30s');
  assert.equal(formatDuration(3_600_000), '1h0m0s');
  assert.equal(formatDuration(3_725_000), '1h2m5s');
  assert.equal(formatDuration(-5), '0s');
});

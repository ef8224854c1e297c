import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ADAPTATION_POLICIES,
  isAdaptationPolicyName,
  seedBufferPolicy,
} from '../../src/core/adaptation/index.js';
import { PROFILE_NAMES, type ProfileName } from '../../src/core/profiles.js';
import type { AdaptationInput } from '../../src/core/quality.js';

describe('adaptation policy registry', () => {
  it('names every policy once, the seed rule among them', () => {
    assert.deepEqual(Object.keys(ADAPTATION_POLICIES), [
      'seed',
      'throughput',
      'bba',
      'bola',
      'robust-mpc',
      'vtp',
    ]);
    assert.equal(ADAPTATION_POLICIES.seed, seedBufferPolicy);
    assert.equal(seedBufferPolicy.name, 'seed-buffer');
    for (const [key, policy] of Object.entries(ADAPTATION_POLICIES)) {
      if (key !== 'seed') assert.equal(policy.name, key);
    }
    assert.equal(isAdaptationPolicyName('bola'), true);
    assert.equal(isAdaptationPolicyName('toString'), false);
    assert.equal(isAdaptationPolicyName('BOLA'), false);
  });

  it('every policy decides a profile with a reason, the same for the same input, without touching it', () => {
    const inputs: AdaptationInput[] = [];
    for (const current of PROFILE_NAMES) {
      for (const bufferSec of [undefined, 0, 1, 2, 3, 4, 5, 6, 10]) {
        for (const throughputKbps of [undefined, [], [0], [800, 1200, 900], [6000, 6000]]) {
          inputs.push(
            Object.freeze({
              current,
              bufferHealth: bufferSec === undefined ? 50 : Math.min(100, (bufferSec / 6) * 100),
              bufferSec,
              throughputKbps: throughputKbps && Object.freeze([...throughputKbps]),
              segmentDurationSec: 2,
            }),
          );
        }
      }
    }
    for (const policy of Object.values(ADAPTATION_POLICIES)) {
      for (const input of inputs) {
        const first = policy.decide(input);
        assert.ok(PROFILE_NAMES.includes(first.profile as ProfileName), policy.name);
        assert.ok(first.reason.length > 0, policy.name);
        assert.deepEqual(policy.decide(input), first);
      }
    }
  });
});

describe('seed rule decisions', () => {
  it('explains each band', () => {
    const at = (bufferHealth: number) =>
      seedBufferPolicy.decide({ current: 'Medium', bufferHealth });
    assert.deepEqual(at(19.9), { profile: 'VeryLow', reason: 'buffer health 19.9 < 20: lowest' });
    assert.deepEqual(at(20), { profile: 'Low', reason: 'buffer health 20 < 40: one down' });
    assert.deepEqual(at(40), { profile: 'Medium', reason: 'buffer health 40 in 40-85: hold' });
    assert.deepEqual(at(85), { profile: 'Medium', reason: 'buffer health 85 in 40-85: hold' });
    assert.deepEqual(at(85.1), { profile: 'High', reason: 'buffer health 85.1 > 85: one up' });
  });

  it('ignores buffer length and throughput: buffer health alone decides', () => {
    const decision = seedBufferPolicy.decide({
      current: 'Low',
      bufferHealth: 50,
      bufferSec: 0,
      throughputKbps: [0],
    });
    assert.equal(decision.profile, 'Low');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TargetDuration } from '../../src/core/target-duration.js';

describe('TargetDuration', () => {
  it('is the nominal duration until the first segment fixes it', () => {
    const target = new TargetDuration(2);
    assert.equal(target.seconds, 2);
    assert.equal(target.fixed, false);
    target.admit(1.96);
    assert.equal(target.fixed, true);
    assert.equal(target.seconds, 2);
  });

  it("fixes the largest of the nominal duration, the first segment's rounded duration and the declared target", () => {
    const fix = (duration: number, declared?: number) => {
      const target = new TargetDuration(2);
      target.admit(duration, declared);
      return target.seconds;
    };
    assert.equal(fix(2.4), 2, '2.4 rounds to 2');
    assert.equal(fix(2.5), 3);
    assert.equal(fix(2, 4), 4, "the encoder's promise of 4 s is kept");
    assert.equal(fix(2, 1), 2, 'never below the nominal duration');
    assert.equal(fix(2, 60), 6, 'a declared target is honoured up to three nominal segments');
    assert.equal(fix(7.2, 60), 7, 'a first segment longer than that bound sets it');
    assert.equal(fix(2, Number.NaN), 2);
  });

  it('keeps the target while later segments fit it, whatever they declare', () => {
    const target = new TargetDuration(2);
    target.admit(2, 4);
    for (const [duration, declared] of [
      [1.5, 2],
      [4.4, 10],
      [3.9, 1],
      [0.2, undefined],
    ] as const)
      target.admit(duration, declared);
    assert.equal(target.seconds, 4);
    assert.equal(target.raises, 0);
  });

  it('rises to a later segment that breaks the promise, counts it, and never falls back', () => {
    const target = new TargetDuration(2);
    target.admit(2, 2);
    assert.equal(target.peek(4.6), 5, 'peek tells without changing');
    assert.equal(target.seconds, 2);
    assert.equal(target.admit(4.6), 2, 'admit returns the broken target');
    assert.equal(target.seconds, 5);
    assert.equal(target.admit(2), undefined);
    assert.equal(target.seconds, 5);
    assert.equal(target.raises, 1);
  });
});

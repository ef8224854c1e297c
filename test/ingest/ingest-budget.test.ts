import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  IngestBudget,
  IngestBudgetError,
  StreamBudgetError,
} from '../../src/ingest/ingest-budget.js';

const MiB = 1024 * 1024;

/** A budget over fixed held figures per stream. */
function budget(held: Record<string, number>, streamBytes: number, totalBytes: number) {
  return new IngestBudget(
    { streamBytes, totalBytes },
    {
      stream: (id) => held[id] ?? 0,
      total: () => Object.values(held).reduce((a, b) => a + b, 0),
    },
  );
}

describe('IngestBudget', () => {
  it("refuses bytes that would pass a stream's budget with a 413-kind error naming file", () => {
    const b = budget({ a: 90 }, 100, 1000);
    b.check('a', 10);
    assert.throws(
      () => b.check('a', 11),
      (e: unknown) =>
        e instanceof StreamBudgetError && e.code === 'STREAM_BUDGET_EXCEEDED' && e.field === 'file',
    );
    b.check('b', 100);
  });

  it('refuses bytes that would pass the server budget, whichever stream sends them', () => {
    const b = budget({ a: 90, b: 90 }, 100, 200);
    b.check('c', 20);
    assert.throws(() => b.check('c', 21), IngestBudgetError);
  });

  it('counts bodies still arriving, so concurrent uploads cannot each take the same room', () => {
    const b = budget({}, 10 * MiB, 100 * MiB);
    const first = b.reserve('a', 6 * MiB, 16 * MiB);
    assert.equal(b.arrivingBytes('a'), 6 * MiB);
    assert.throws(() => b.reserve('a', 6 * MiB, 16 * MiB), StreamBudgetError);
    first.release();
    first.release();
    assert.equal(b.arrivingBytes(), 0, 'released once, however often asked');
    b.reserve('a', 6 * MiB, 16 * MiB).release();
  });

  it('grows a reservation in steps capped by the body limit, and exactly when a step does not fit', () => {
    const b = budget({ a: 0 }, 3 * MiB, 100 * MiB);
    const chunked = b.reserve('a', 0, 16 * MiB);
    chunked.grow(1000);
    assert.equal(b.arrivingBytes('a'), MiB, 'one step for the first kilobyte');
    chunked.grow(MiB + 1);
    assert.equal(b.arrivingBytes('a'), 2 * MiB);
    chunked.grow(2 * MiB + 10);
    assert.equal(b.arrivingBytes('a'), 3 * MiB);
    assert.throws(() => chunked.grow(3 * MiB + 1), StreamBudgetError);
    chunked.release();
    const small = b.reserve('a', 0, 300);
    small.grow(100);
    assert.equal(b.arrivingBytes('a'), 300, 'never more than the body may be');
    small.release();
    const tight = budget({ a: 2.5 * MiB }, 3 * MiB, 100 * MiB).reserve('a', 0, 16 * MiB);
    tight.grow(100 * 1024); // a whole step would not fit; the bytes that came do
  });
});

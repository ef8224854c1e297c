import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DistributionError } from '../../src/core/errors.js';
import {
  DeliveryPool,
  type DeliveryPoolOptions,
  type DeliveryTask,
} from '../../src/service/delivery-pool.js';
import { waitFor } from '../helpers/wait.js';

const FAST: DeliveryPoolOptions = {
  workers: 2,
  queueCapacity: 100,
  backoff: { minMs: 5, maxMs: 20, factor: 2 },
  isPermanent: (e) => e instanceof DistributionError,
};

let n = 0;
function task(run: DeliveryTask['run'], extra: Partial<DeliveryTask> = {}): DeliveryTask {
  return { id: `t${++n}`, priority: 5, retries: 2, timeoutMs: 1000, run, ...extra };
}

/** A task that blocks its worker until released. */
function gate() {
  let release!: () => void;
  const done = new Promise<void>((r) => {
    release = r;
  });
  return { release, run: () => done };
}

/** Waits for a synchronous condition, polling often: pool timings here are milliseconds. */
function until(check: () => boolean): Promise<true> {
  return waitFor(async () => check() || undefined, 2000, 'the pool to get there', 2);
}

describe('DeliveryPool', () => {
  it('runs at most `workers` tasks at once and delivers them all', async () => {
    const pool = new DeliveryPool({ ...FAST, workers: 3 });
    let running = 0;
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      pool.submit(
        task(async () => {
          running++;
          peak = Math.max(peak, running);
          await sleep(3);
          running--;
        }),
      );
    }
    await until(() => pool.stats().delivered === 20);
    assert.equal(peak, 3);
    assert.equal(pool.stats().failedAttempts, 0);
  });

  it('runs higher priorities first and equal priorities in submission order', async () => {
    const pool = new DeliveryPool({ ...FAST, workers: 1 });
    const blocker = gate();
    pool.submit(task(blocker.run));
    const order: string[] = [];
    const record = (name: string) => async () => {
      order.push(name);
    };
    pool.submit(task(record('low'), { priority: 1 }));
    pool.submit(task(record('high'), { priority: 9 }));
    pool.submit(task(record('mid-a'), { priority: 5 }));
    pool.submit(task(record('mid-b'), { priority: 5 }));
    blocker.release();
    await until(() => order.length === 4);
    assert.deepEqual(order, ['high', 'mid-a', 'mid-b', 'low']);
  });

  it('retries failed attempts with backoff and counts each failure', async () => {
    const pool = new DeliveryPool(FAST);
    const times: number[] = [];
    const t = task(async () => {
      times.push(performance.now());
      if (times.length < 3) throw new Error('transient');
    });
    pool.submit(t);
    await until(() => pool.status(t.id)?.state === 'delivered');
    assert.deepEqual(pool.status(t.id), { id: t.id, state: 'delivered', attempts: 3 });
    assert.equal(pool.stats().failedAttempts, 2);
    assert.equal(pool.stats().delivered, 1);
    assert.ok((times[1] ?? 0) - (times[0] ?? 0) >= 4, 'waited at least the first backoff');
    assert.ok((times[2] ?? 0) - (times[1] ?? 0) >= 9, 'the second backoff is longer');
  });

  it('gives up after the retries and reports the last error', async () => {
    const pool = new DeliveryPool(FAST);
    const t = task(
      async () => {
        throw new Error('CDN answered 500');
      },
      { retries: 3 },
    );
    pool.submit(t);
    await until(() => pool.status(t.id)?.state === 'failed');
    assert.deepEqual(pool.status(t.id), {
      id: t.id,
      state: 'failed',
      attempts: 4,
      error: 'CDN answered 500',
    });
    assert.equal(pool.stats().failedAttempts, 4);
    assert.equal(pool.stats().failed, 1);
    assert.equal(pool.stats().recentFailureRate, 1);
  });

  it('times out a hung attempt, aborts its signal and retries', async () => {
    const pool = new DeliveryPool(FAST);
    const signals: AbortSignal[] = [];
    const t = task(
      (signal) => {
        signals.push(signal);
        return signals.length === 1 ? new Promise(() => {}) : Promise.resolve();
      },
      { timeoutMs: 30 },
    );
    pool.submit(t);
    await until(() => pool.status(t.id)?.state === 'delivered');
    assert.equal(pool.status(t.id)?.attempts, 2);
    assert.equal(signals[0]?.aborted, true, 'the timed-out attempt was told to stop');
    assert.equal(signals[1]?.aborted, false);
    assert.equal(pool.stats().failedAttempts, 1);
  });

  it('does not retry permanent errors', async () => {
    const pool = new DeliveryPool(FAST);
    let attempts = 0;
    const t = task(async () => {
      attempts++;
      throw new DistributionError('SEGMENT_NOT_FOUND', 'gone');
    });
    pool.submit(t);
    await until(() => pool.status(t.id)?.state === 'failed');
    assert.equal(attempts, 1);
  });

  it('refuses work beyond the queue capacity without dropping what it accepted', async () => {
    const pool = new DeliveryPool({ ...FAST, workers: 1, queueCapacity: 3 });
    const blocker = gate();
    pool.submit(task(blocker.run));
    await until(() => pool.stats().running === 1);
    let ran = 0;
    for (let i = 0; i < 3; i++) pool.submit(task(async () => void ran++));
    assert.throws(() => pool.submit(task(async () => void ran++)), { code: 'QUEUE_FULL' });
    assert.equal(pool.stats().queued, 3);
    blocker.release();
    await until(() => pool.stats().delivered === 4);
    assert.equal(ran, 3);
  });

  it('drains queued and running work on shutdown, then refuses new work', async () => {
    const pool = new DeliveryPool({ ...FAST, workers: 1 });
    let ran = 0;
    for (let i = 0; i < 5; i++) {
      pool.submit(
        task(async () => {
          await sleep(5);
          ran++;
        }),
      );
    }
    assert.equal(await pool.drain(2000), true);
    assert.equal(ran, 5);
    assert.throws(() => pool.submit(task(async () => {})), { code: 'SHUTTING_DOWN' });
  });

  it('abandons work left at the drain deadline: queued tasks cleared, running ones aborted', async () => {
    const pool = new DeliveryPool({ ...FAST, workers: 1 });
    let aborted = false;
    const hung = task(
      (signal) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(signal.reason);
          });
        }),
      { timeoutMs: 60_000 },
    );
    pool.submit(hung);
    const queued = task(async () => {});
    pool.submit(queued);
    await until(() => pool.stats().running === 1);
    assert.equal(await pool.drain(30), false);
    await until(() => aborted);
    assert.equal(pool.stats().queued, 0);
    assert.deepEqual(pool.status(queued.id), {
      id: queued.id,
      state: 'failed',
      attempts: 0,
      error: 'abandoned at shutdown',
    });
    await until(() => pool.status(hung.id)?.state === 'failed');
    assert.equal(pool.stats().failed, 2);
  });
});

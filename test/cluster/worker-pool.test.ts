import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { Writable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import pino from 'pino';
import type { PrimaryMessage } from '../../src/cluster/replica-messages.js';
import { WorkerPool, type WorkerPoolOptions } from '../../src/cluster/worker-pool.js';
import { waitFor } from '../helpers/wait.js';

const FIXTURE = new URL('./pool-worker-fixture.ts', import.meta.url).pathname;
const MIB = 1024 * 1024;

/** A published segment of `bytes` as the primary's feed sends it. */
function segment(recordingId: string, sequence: number, bytes = MIB): PrimaryMessage {
  return {
    type: 'vtp:segment',
    recordingId,
    incarnation: 'i',
    segment: {
      id: `i-${sequence}.ts`,
      sequence,
      profile: 'Low',
      durationSec: 2,
      data: new Uint8Array(bytes),
      contentType: 'video/mp2t',
      createdAt: 0,
      programDateTime: 0,
      discontinuity: false,
      discontinuitySequence: 0,
    },
    init: undefined,
    targetDurationSec: 2,
  };
}

/** Asks a fixture worker for what it received (it answers once it has everything before). */
const END: PrimaryMessage = { type: 'vtp:retired', recordingId: 'end' };

/** A pool of fixture workers (real processes) logging to `lines`. */
function startPool(
  processes: number,
  snapshot: () => PrimaryMessage[],
  limits: WorkerPoolOptions['limits'],
): { pool: WorkerPool; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const pool = new WorkerPool({
    processes,
    feed: { snapshot },
    usage: {
      findSession: () => undefined,
      getDistributor: () => {
        throw new Error('no streams here');
      },
    },
    origin: { host: '127.0.0.1', port: 1 },
    proxySecret: 'a-test-proxy-secret',
    log: pino({ level: 'info' }, sink),
    limits,
  });
  return { pool, lines };
}

/**
 * Watches a worker's channel from outside: the largest number of segment bytes handed to it at
 * once whose send callback (the channel took them) had not come yet.
 */
function watchInFlight(worker: Worker): { peak: number } {
  const seen = { now: 0, peak: 0 };
  const send = worker.send.bind(worker);
  worker.send = ((
    message: PrimaryMessage,
    handle: undefined,
    callback?: (e: Error | null) => void,
  ) => {
    const bytes = message.type === 'vtp:segment' ? message.segment.data.byteLength : 0;
    seen.now += bytes;
    seen.peak = Math.max(seen.peak, seen.now);
    return send(message, handle, (error: Error | null) => {
      seen.now -= bytes;
      callback?.(error);
    });
  }) as Worker['send'];
  return seen;
}

describe('the primary’s worker pool, with real worker processes', { timeout: 60_000 }, () => {
  /** What each worker reported it received, by worker id. */
  const reports = new Map<number, string[]>();
  /** How many flushes each worker was asked for, by worker id. */
  const flushes = new Map<number, number>();
  const onMessage = (
    worker: Worker,
    message: { type?: string; received?: string[]; flushes?: number },
  ) => {
    if (message?.type !== 'test:received') return;
    reports.set(worker.id, message.received ?? []);
    flushes.set(worker.id, message.flushes ?? 0);
  };
  let running: WorkerPool | undefined;

  before(() => {
    cluster.setupPrimary({ exec: FIXTURE, execArgv: ['--import', 'tsx'], args: [] });
    cluster.on('message', onMessage);
  });

  afterEach(async () => {
    await running?.stop(performance.now() + 5000);
    running = undefined;
  });

  after(() => {
    cluster.off('message', onMessage);
  });

  it('sends a starting worker its snapshot a few megabytes at a time, then later changes, in order', async () => {
    const snapshot = Array.from({ length: 24 }, (_, i) => segment('dvr', i));
    const later = [segment('dvr', 24), segment('live', 0)];
    let watched: { peak: number } | undefined;
    const onFork = (worker: Worker) => {
      watched = watchInFlight(worker);
    };
    cluster.once('fork', onFork);
    const { pool } = startPool(
      1,
      () => {
        // Changes published while the snapshot is on its way.
        setImmediate(() => {
          for (const message of later) pool.broadcast(message);
          pool.broadcast(END);
        });
        return snapshot;
      },
      { maxInFlightBytes: 4 * MIB, maxUnsentBytes: 64 * MIB },
    );
    running = pool;
    await pool.start();
    const worker = Object.values(cluster.workers ?? {})[0] as Worker;
    const received = await waitFor(
      async () => reports.get(worker.id),
      20_000,
      'the worker’s list of what it received',
    );
    assert.deepEqual(received, [
      ...snapshot.map((_, i) => `dvr/${i}`),
      'ready',
      'dvr/24',
      'live/0',
    ]);
    assert.ok(watched, 'the fork was seen');
    // 24 MiB of snapshot, never more than the 4 MiB cap waiting for the channel at once.
    assert.ok(watched.peak > 0 && watched.peak <= 4 * MIB, `peak ${watched.peak} bytes`);
  });

  it('replaces a worker that leaves more than the limit of updates unread, and logs why', async () => {
    const { pool, lines } = startPool(2, () => [], {
      maxInFlightBytes: MIB,
      maxUnsentBytes: 4 * MIB,
    });
    running = pool;
    await pool.start();
    const [stuck, healthy] = Object.values(cluster.workers ?? {}) as [Worker, Worker];
    // A worker that reads nothing any more (stopped, as a stuck event loop would be).
    stuck.process.kill('SIGSTOP');
    const fellBehind = () => lines.find((line) => line.includes('fell behind'));
    let sent = 0;
    // One segment at a time, each read by the healthy worker (it answers the flush after it).
    while (!fellBehind() && sent < 64) {
      pool.broadcast(segment('live', sent++));
      await pool.flush(200);
    }
    const warning = JSON.parse(fellBehind() ?? '{}') as {
      worker?: number;
      unsentBytes?: number;
      limit?: number;
      msg?: string;
    };
    assert.equal(warning.worker, stuck.id, warning.msg);
    assert.equal(warning.limit, 4 * MIB);
    assert.ok((warning.unsentBytes ?? 0) > 4 * MIB);
    await waitFor(
      async () => (stuck.isDead() ? true : undefined),
      10_000,
      'the stuck worker killed',
    );
    assert.ok(!healthy.isDead(), 'the worker keeping up stays');
    pool.broadcast(END);
    const received = await waitFor(
      async () => reports.get(healthy.id),
      10_000,
      'the healthy worker’s list',
    );
    assert.deepEqual(received, ['ready', ...Array.from({ length: sent }, (_, i) => `live/${i}`)]);
    const replacement = await waitFor(
      async () =>
        lines
          .map((line) => JSON.parse(line) as { worker?: number; msg?: string })
          .find(
            (line) =>
              line.msg?.endsWith('listening') &&
              line.worker !== stuck.id &&
              line.worker !== healthy.id,
          ),
      20_000,
      'a replacement worker listening',
    );
    assert.ok((replacement.worker ?? 0) > healthy.id);
  });

  it('shares one round of flushes among the readers asking at once', async () => {
    const { pool } = startPool(2, () => [], {});
    running = pool;
    await pool.start();
    // The first reader's round, then one more for the nine that came while it was on its way.
    await Promise.all(Array.from({ length: 10 }, () => pool.flush()));
    pool.broadcast(END);
    for (const worker of Object.values(cluster.workers ?? {}) as Worker[]) {
      const count = await waitFor(
        async () => flushes.get(worker.id),
        10_000,
        `worker ${worker.id}’s count of flushes`,
      );
      assert.equal(count, 2, `worker ${worker.id}`);
    }
  });
});

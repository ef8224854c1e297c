import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PushKind } from '../../src/service/cdn-push-plan.js';
import {
  type PushJob,
  type PushOutcome,
  TargetScheduler,
} from '../../src/service/cdn-push-scheduler.js';
import { PushSlots } from '../../src/service/cdn-push-slots.js';
import { parsePushTargets } from '../../src/service/cdn-push-target.js';
import { DeliveryPool } from '../../src/service/delivery-pool.js';
import { waitFor } from '../helpers/wait.js';

const [TARGET] = parsePushTargets('http://127.0.0.1:9');

function pool(workers = 4): DeliveryPool {
  return new DeliveryPool({
    workers,
    queueCapacity: 100,
    backoff: { minMs: 1, maxMs: 5, factor: 2 },
  });
}

/** A job whose attempts are decided by `attempt`, recording how it ended. */
function job(
  key: string,
  attempt: (signal: AbortSignal) => Promise<number | undefined>,
  outcomes: Map<string, PushOutcome>,
  extra: { kind?: PushKind; priority?: number; retries?: number } = {},
): PushJob {
  return {
    key,
    kind: extra.kind ?? 'segment',
    priority: extra.priority ?? 1,
    retries: extra.retries ?? 0,
    timeoutMs: 1000,
    attempt,
    done: (outcome) => outcomes.set(key, outcome),
  };
}

/** An attempt that waits until `open()`, then sends `bytes`. */
function gate(bytes = 10) {
  let open!: () => void;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return { open, attempt: () => opened.then(() => bytes) };
}

function scheduler(
  options: { maxBacklog?: number; maxInFlight?: number; slots?: PushSlots; p?: DeliveryPool } = {},
  changes: boolean[] = [],
): { s: TargetScheduler; p: DeliveryPool } {
  assert.ok(TARGET);
  const p = options.p ?? pool();
  const s = new TargetScheduler(
    TARGET,
    { submitDelivery: (task) => p.submit(task), deliveryWorkers: 4 },
    {
      maxBacklog: options.maxBacklog ?? 8,
      maxInFlight: options.maxInFlight ?? 2,
      slots: options.slots ?? new PushSlots(3),
      retryPauseMs: 10,
      clock: Date.now,
    },
    (up) => changes.push(up),
  );
  return { s, p };
}

/** An attempt that hangs until its signal aborts (a target that never answers). */
function hang(signal: AbortSignal): Promise<number | undefined> {
  return new Promise((_, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

describe('a target scheduler', () => {
  it('keeps at most maxInFlight pushes in the pool and the rest waiting, highest priority next', async () => {
    const { s } = scheduler({ maxInFlight: 2 });
    const outcomes = new Map<string, PushOutcome>();
    const gates = ['a', 'b', 'c', 'd'].map(() => gate());
    const started: string[] = [];
    ['a', 'b', 'c', 'd'].forEach((key, i) => {
      s.enqueue(
        job(
          key,
          () => {
            started.push(key);
            return (gates[i] as ReturnType<typeof gate>).attempt();
          },
          outcomes,
          { priority: key === 'd' ? 9 : 1 },
        ),
      );
    });
    assert.deepEqual([s.status().inFlight, s.status().backlog], [2, 2]);
    gates[0]?.open();
    await waitFor(async () => (started.length === 3 ? true : undefined), 2000, 'a third start');
    assert.deepEqual(started, ['a', 'b', 'd']);
    for (const g of gates) g.open();
    await waitFor(async () => (outcomes.size === 4 ? true : undefined), 2000, 'all pushed');
    assert.deepEqual([...outcomes.values()], ['pushed', 'pushed', 'pushed', 'pushed']);
    assert.deepEqual([s.status().segmentsPushed, s.status().bytesPushed], [4, 40]);
  });

  it('bounds the backlog: new work drops the oldest (counted), catch-up takes only half', () => {
    const { s } = scheduler({ maxBacklog: 4, maxInFlight: 1 });
    const outcomes = new Map<string, PushOutcome>();
    const blocker = gate();
    s.enqueue(job('running', blocker.attempt, outcomes));
    assert.equal(s.enqueue(job('c1', blocker.attempt, outcomes), 'catch-up'), true);
    assert.equal(s.enqueue(job('c2', blocker.attempt, outcomes), 'catch-up'), true);
    assert.equal(s.enqueue(job('c3', blocker.attempt, outcomes), 'catch-up'), false);
    for (const key of ['n1', 'n2', 'n3']) s.enqueue(job(key, blocker.attempt, outcomes));
    assert.equal(s.status().backlog, 4);
    assert.equal(s.status().dropped, 1);
    assert.equal(outcomes.get('c1'), 'dropped');
    assert.equal(s.enqueue(job('n3', blocker.attempt, outcomes)), true, 'already waiting');
    assert.equal(s.status().backlog, 4);
    blocker.open();
  });

  it('counts a target down after an upload gives up, probes it one push at a time, and up again on success', async () => {
    const changes: boolean[] = [];
    const { s } = scheduler({ maxInFlight: 4 }, changes);
    const outcomes = new Map<string, PushOutcome>();
    let failing = true;
    let concurrent = 0;
    let peakWhileDown = 0;
    const attempt = async () => {
      concurrent++;
      if (failing) peakWhileDown = Math.max(peakWhileDown, concurrent);
      await new Promise((r) => setTimeout(r, 2));
      concurrent--;
      if (failing) throw new Error('PUT /x answered 503');
      return 5;
    };
    s.enqueue(job('first', attempt, outcomes, { retries: 2 }));
    await waitFor(async () => (s.isUp ? undefined : true), 2000, 'down');
    assert.deepEqual([s.status().failedAttempts, s.status().failures], [3, 1]);
    assert.equal(s.status().lastError, 'PUT /x answered 503');
    for (const key of ['p1', 'p2', 'p3']) s.enqueue(job(key, attempt, outcomes));
    await waitFor(
      async () => (s.status().failures >= 3 ? true : undefined),
      2000,
      'probes failing',
    );
    assert.equal(peakWhileDown, 1, 'one push at a time while down');
    failing = false;
    s.enqueue(job('later', attempt, outcomes));
    await waitFor(async () => (s.isUp ? true : undefined), 2000, 'up again');
    assert.deepEqual(changes, [false, true]);
    // A removal that fails says nothing of the target.
    failing = true;
    s.enqueue(job('rm', attempt, outcomes, { kind: 'delete' }));
    await waitFor(async () => (outcomes.get('rm') ? true : undefined), 2000, 'the removal');
    assert.equal(outcomes.get('rm'), 'failed');
    assert.equal(s.isUp, true);
  });

  it('counts a push with nothing left to send as neither success nor failure', async () => {
    const { s } = scheduler();
    const outcomes = new Map<string, PushOutcome>();
    s.enqueue(job('gone', async () => undefined, outcomes));
    await waitFor(async () => outcomes.get('gone'), 2000, 'the skip');
    assert.equal(outcomes.get('gone'), 'skipped');
    const status = s.status();
    assert.deepEqual(
      [status.segmentsPushed, status.failures, status.lastSuccessAt],
      [0, 0, undefined],
    );
  });

  it('shares pool places among targets: together they never hold more, and a freed place goes to the one waiting', async () => {
    const slots = new PushSlots(3);
    const p = pool(4);
    const a = scheduler({ maxInFlight: 8, slots, p }).s;
    const b = scheduler({ maxInFlight: 8, slots, p }).s;
    const outcomes = new Map<string, PushOutcome>();
    const gates = new Map<string, ReturnType<typeof gate>>();
    const push = (s: TargetScheduler, key: string) => {
      const g = gate();
      gates.set(key, g);
      s.enqueue(job(key, g.attempt, outcomes));
    };
    for (const key of ['a1', 'a2', 'a3', 'a4']) push(a, key);
    for (const key of ['b1', 'b2']) push(b, key);
    const inFlight = () => [a.status().inFlight, b.status().inFlight];
    assert.deepEqual(inFlight(), [3, 0], 'the first target took every place');
    assert.equal(slots.inUse, 3);
    gates.get('a1')?.open();
    await waitFor(async () => outcomes.get('a1'), 2000, 'a1 pushed');
    // The place a1 gave back went to b, which waited longest, not to a's own backlog.
    assert.deepEqual(inFlight(), [2, 1]);
    for (const g of gates.values()) g.open();
    await waitFor(async () => (outcomes.size === 6 ? true : undefined), 2000, 'all pushed');
    assert.deepEqual([slots.inUse, p.stats().running], [0, 0]);
  });

  it('counts nothing for work the pool abandons or aborts after it stopped, and keeps the target up', async () => {
    const changes: boolean[] = [];
    const p = pool(2);
    const slots = new PushSlots(2);
    const { s } = scheduler({ maxInFlight: 2, slots, p }, changes);
    const outcomes = new Map<string, PushOutcome>();
    // A viewer's delivery holds one worker; a push that never answers the other.
    const blocker = gate();
    p.submit({
      id: 'viewer',
      priority: 5,
      retries: 0,
      timeoutMs: 60_000,
      run: async () => {
        await blocker.attempt();
      },
    });
    for (const key of ['running', 'queued', 'backlogged']) {
      s.enqueue(job(key, hang, outcomes, { retries: 3 }));
    }
    assert.deepEqual([s.status().inFlight, s.status().backlog, p.stats().queued], [2, 1, 1]);
    s.stop();
    assert.equal(outcomes.get('backlogged'), 'dropped', 'the backlog is let go at once');
    // Past the deadline the pool abandons the queued push and aborts the running one.
    assert.equal(await p.drain(20), false);
    await waitFor(async () => outcomes.get('running'), 2000, 'the running push to end');
    blocker.open();
    assert.deepEqual([outcomes.get('queued'), outcomes.get('running')], ['dropped', 'dropped']);
    const status = s.status();
    assert.deepEqual(
      [status.up, status.failures, status.failedAttempts, status.inFlight, slots.inUse],
      [true, 0, 0, 0, 0],
    );
    assert.equal(status.lastError, undefined);
    assert.deepEqual(changes, [], 'never reported down');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProfileName } from '../../src/core/profiles.js';
import type { Segment } from '../../src/core/segment.js';
import { PushBacklog } from '../../src/service/cdn-push-backlog.js';
import {
  PUSH_PRIORITY,
  planRendition,
  type RenditionPlanInput,
} from '../../src/service/cdn-push-plan.js';
import { DEFAULT_PRIORITY } from '../../src/service/deliveries.js';

function segment(sequence: number, initId?: string): Segment {
  return {
    id: `s-${sequence}.ts`,
    sequence,
    profile: 'Low',
    durationSec: 2,
    data: new Uint8Array(1),
    contentType: 'video/mp2t',
    createdAt: 0,
    programDateTime: 0,
    discontinuity: false,
    discontinuitySequence: 0,
    initId,
  };
}

/** A window of sequences 0-9 whose playlist lists the newest `listed`, nothing at the target. */
function input(extra: Partial<RenditionPlanInput> = {}): RenditionPlanInput {
  const window = Array.from({ length: 10 }, (_, n) => segment(n, n < 5 ? 'i-0.mp4' : 'i-1.mp4'));
  const names = new Set(window.flatMap((s) => [s.id, s.initId ?? '']));
  return {
    profile: 'Low',
    window,
    listed: window.slice(-4),
    held: (name) => names.has(name),
    atTarget: new Set(),
    pending: () => false,
    inUse: () => false,
    ...extra,
  };
}

describe('planning a rendition for a target', () => {
  it('queues the listed segments first, each after its init section, then catches up with the rest of the window', () => {
    const plan = planRendition(input());
    assert.deepEqual(
      plan.uploads.map((u) => [u.name, u.listed]),
      [
        ['i-1.mp4', true],
        ['s-6.ts', true],
        ['s-7.ts', true],
        ['s-8.ts', true],
        ['s-9.ts', true],
        ['i-0.mp4', false],
        ['s-0.ts', false],
        ['s-1.ts', false],
        ['s-2.ts', false],
        ['s-3.ts', false],
        ['s-4.ts', false],
        ['s-5.ts', false],
      ],
    );
    assert.ok(
      plan.uploads.filter((u) => u.listed).every((u) => u.priority === PUSH_PRIORITY.segment.Low),
    );
    assert.ok(
      plan.uploads.filter((u) => !u.listed).every((u) => u.priority === PUSH_PRIORITY.catchUp),
    );
    assert.equal(plan.playlistReady, false);
  });

  it('gives lower renditions a higher priority, the playlist more than any segment, and every push less than a viewer', () => {
    const order: ProfileName[] = ['VeryLow', 'Low', 'Medium', 'High'];
    const priorities = order.map((p) => planRendition(input({ profile: p })).uploads[0]?.priority);
    assert.deepEqual(
      priorities,
      [...priorities].sort((a = 0, b = 0) => b - a),
    );
    assert.equal(new Set(priorities).size, 4);
    assert.ok(PUSH_PRIORITY.playlist > Math.max(...priorities.map(Number)));
    assert.ok(PUSH_PRIORITY.catchUp < Math.min(...priorities.map(Number)));
    assert.ok(PUSH_PRIORITY.delete < PUSH_PRIORITY.catchUp);
    // A viewer's delivery of the default priority goes before any push.
    assert.ok(PUSH_PRIORITY.playlist < DEFAULT_PRIORITY);
  });

  it('skips what the target has or what is on its way, and lets the playlist go only when all it lists is there', () => {
    const atTarget = new Set(['i-1.mp4', 's-6.ts', 's-7.ts', 's-8.ts']);
    const waiting = planRendition(input({ atTarget, pending: (n) => n.startsWith('s-') }));
    assert.deepEqual(
      waiting.uploads.map((u) => u.name),
      ['i-0.mp4'],
    );
    assert.equal(waiting.playlistReady, false, 's-9 is not there yet');
    atTarget.add('s-9.ts');
    assert.equal(planRendition(input({ atTarget })).playlistReady, true);
    atTarget.delete('i-1.mp4');
    assert.equal(planRendition(input({ atTarget })).playlistReady, false, 'nor its init section');
    assert.equal(planRendition(input({ listed: [] })).playlistReady, false);
  });

  it('removes what the origin let go, unless a playlist at the target (or on its way) still lists it', () => {
    const atTarget = new Set(['s-0.ts', 'old-1.ts', 'old-2.ts', 'i-old.mp4']);
    const plan = planRendition(input({ atTarget, inUse: (n) => n === 'old-2.ts' }));
    assert.deepEqual(plan.deletes, ['old-1.ts', 'i-old.mp4']);
  });
});

describe('a push backlog', () => {
  const job = (key: string, priority = 1) => ({ key, priority });

  it('hands out the highest priority first, oldest first among equals', () => {
    const backlog = new PushBacklog(10);
    for (const [key, priority] of [
      ['a', 1],
      ['b', 5],
      ['c', 1],
      ['d', 5],
    ] as const) {
      backlog.add(job(key, priority));
    }
    const order: string[] = [];
    for (let next = backlog.next(); next; next = backlog.next()) {
      order.push(next.key);
      backlog.delete(next.key);
    }
    assert.deepEqual(order, ['b', 'd', 'a', 'c']);
  });

  it('keeps a job once however often it is added', () => {
    const backlog = new PushBacklog(10);
    assert.equal(backlog.add(job('a')).added, true);
    assert.equal(backlog.add(job('a', 9)).added, false);
    assert.equal(backlog.size, 1);
  });

  it('stays within its bound: new work drops the oldest job, catch-up waits for room', () => {
    const backlog = new PushBacklog(3);
    for (const key of ['a', 'b', 'c']) backlog.add(job(key, key === 'a' ? 9 : 1));
    const result = backlog.add(job('d'));
    assert.deepEqual([result.added, result.dropped?.key], [true, 'a']);
    assert.deepEqual(backlog.add(job('e'), false), { added: false });
    assert.equal(backlog.size, 3);
    assert.deepEqual(
      backlog.clear().map((j) => j.key),
      ['b', 'c', 'd'],
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_HISTORY, ViewerSession } from '../../src/core/viewer-session.js';

describe('ViewerSession attendance counters', () => {
  it('counts a low-buffer event as health falls under 20, not for every low report', () => {
    const s = new ViewerSession('v', 'vs-1', 'Low', 0);
    for (const [health, at] of [
      [15, 1],
      [10, 2],
      [50, 3],
      [19.9, 4],
      [20, 5],
    ] as const)
      s.updateBuffer(health, at);
    assert.equal(s.lowBufferEvents, 2);
  });

  it('counts a run of starved reports as one stall', () => {
    const s = new ViewerSession('v', 'vs-1', 'Low', 0);
    for (const starved of [false, true, true, false, true]) s.reportStarvation(starved);
    assert.equal(s.stalls, 2);
  });

  it('counts every switch though the history keeps the newest, and times each profile', () => {
    const s = new ViewerSession('v', 'vs-1', 'Low', 0);
    const switches = MAX_HISTORY + 30;
    for (let i = 1; i <= switches; i++) s.observe(i % 2 === 1 ? 'High' : 'Low', i * 1000);
    assert.equal(s.switchCount, switches);
    assert.equal(s.bitrateHistory.length, MAX_HISTORY);
    s.lastSeenAt = (switches + 0.5) * 1000;
    const time = s.profileMs();
    // Low from 0 to 1 s and after each even second (the last, at 130 s, for half a second);
    // High after each odd one.
    assert.equal(time.Low, 65_500);
    assert.equal(time.High, 65_000);
  });

  it('restores its counters and profile time, which goes on adding up to the watch time', () => {
    const s = ViewerSession.restore({
      viewerId: 'v',
      sessionId: 'vs-1',
      currentBitrate: 'Medium',
      targetBitrate: 'Medium',
      joinedAt: 0,
      joinSeq: 0,
      lastSeenAt: 10_000,
      lastSequence: 4,
      segmentsReceived: 5,
      bytesReceived: 500,
      bufferHealth: 12,
      throughputKbps: 0,
      bitrateHistory: [{ from: 'Low', to: 'Medium', at: 4_000, reason: 'observed' }],
      lowBufferEvents: 3,
      stalls: 2,
      switchCount: 7,
      profileMs: { Low: 4_000, Medium: 6_000 },
    });
    assert.deepEqual([s.lowBufferEvents, s.stalls, s.switchCount], [3, 2, 7]);
    s.updateBuffer(5, 60_000);
    assert.equal(s.lowBufferEvents, 3, 'still low: no new event');
    s.lastSeenAt = 62_000;
    assert.deepEqual(s.profileMs(), { Low: 4_000, Medium: 58_000 });
  });
});

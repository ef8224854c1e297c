import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_HISTORY, ViewerSession } from '../../src/core/viewer-session.js';

describe('ViewerSession attendance counters', () => {
  it('counts a low-buffer event as health falls under 20, not for every low report', () => {
    const s = new ViewerSession('v', 'vs-1', 'Low', 0);
    for (const [health, at] of [
      [60, 1],
      [15, 2],
      [10, 3],
      [50, 4],
      [19.9, 5],
      [20, 6],
    ] as const)
      s.updateBuffer(health, at);
    assert.equal(s.lowBufferEvents, 2);
  });

  it("does not count a player's first report as a fall: its buffer starts empty", () => {
    const s = new ViewerSession('v', 'vs-1', 'Low', 0);
    s.updateBuffer(0, 1);
    s.updateBuffer(5, 2);
    assert.equal(s.lowBufferEvents, 0);
    s.updateBuffer(40, 3);
    s.updateBuffer(10, 4);
    assert.equal(s.lowBufferEvents, 1);
  });

  it('counts a run of starved reports as one stall', () => {
    const s = new ViewerSession('v', 'vs-1', 'Low', 0);
    for (const starved of [false, true, true, false, true]) s.reportStarvation(starved);
    assert.equal(s.stalls, 2);
  });

  it('counts a stall as the buffer falling to empty, once per fall, whatever the player refilled', () => {
    const s = new ViewerSession('v', 'vs-1', 'Low', 0);
    s.updateBuffer(90, 1);
    // As HLS delivery applies a request carrying `bl=2100,bs`: starvation first, then the length.
    s.reportStarvation(true);
    s.updateBuffer(35, 2);
    assert.deepEqual([s.stalls, s.lowBufferEvents], [1, 1]);
    // `bl=500,bs` after a healthy report: one fall, not one for bs and one for the low length.
    s.reportStarvation(false);
    s.updateBuffer(90, 3);
    s.reportStarvation(true);
    s.updateBuffer(8, 4);
    assert.deepEqual([s.stalls, s.lowBufferEvents], [2, 2]);
    // Still starved and still low: the same fall.
    s.reportStarvation(true);
    s.updateBuffer(5, 5);
    assert.deepEqual([s.stalls, s.lowBufferEvents], [2, 2]);
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

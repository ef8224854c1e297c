import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  attendanceReport,
  peakConcurrent,
  type ViewerAttendance,
} from '../../src/service/attendance-report.js';
import { s, sessionRecord, streamRecord } from './attendance-fixtures.js';

/**
 * A 10-minute lecture: alice [0, 300) left herself, an anonymous viewer [120, 480) expired idle
 * 30 s after its last request, carol [240, 600) stalled and was removed with the stream. All
 * three overlap in [240, 300).
 */
function lecture() {
  const alice = sessionRecord({
    viewerId: 'alice',
    joinedAt: s(0),
    lastSeenAt: s(300),
    leftAt: s(300),
    leaveReason: 'left',
    segmentsReceived: 150,
    bytesReceived: 1_500_000,
    currentProfile: 'High',
    profileMs: { Medium: 200_000, High: 100_000 },
    switchCount: 1,
    bitrateHistory: [{ from: 'Medium', to: 'High', at: s(200), reason: 'adaptation' }],
  });
  const anon = sessionRecord({
    viewerId: 'anon-7f3a',
    anonymous: true,
    joinedAt: s(120),
    lastSeenAt: s(450),
    leftAt: s(480),
    leaveReason: 'idle',
    segmentsReceived: 165,
    bytesReceived: 800_000,
    profileMs: { Low: 330_000 },
  });
  const carol = sessionRecord({
    viewerId: 'carol',
    joinedAt: s(240),
    lastSeenAt: s(598),
    leftAt: s(600),
    leaveReason: 'stream_removed',
    segmentsReceived: 179,
    bytesReceived: 700_123,
    lowBufferEvents: 5,
    stalls: 3,
    profileMs: { VeryLow: 100_000, Low: 258_000 },
    // More switches than the bounded history keeps: the report counts them all.
    switchCount: 130,
    bitrateHistory: [
      { from: 'Low', to: 'VeryLow', at: s(300), reason: 'adaptation' },
      { from: 'VeryLow', to: 'Low', at: s(400), reason: 'observed' },
    ],
    qualityHistory: [
      { at: s(300), bufferHealth: 15, throughputKbps: 310.4 },
      { at: s(400), bufferHealth: 50, throughputKbps: 1200 },
      { at: s(500), bufferHealth: 90, throughputKbps: 2500.6 },
    ],
  });
  return { alice, anon, carol };
}

const byViewer = (rows: readonly ViewerAttendance[], id: string) => {
  const row = rows.find((r) => r.viewer_id === id);
  assert.ok(row, `row of ${id}`);
  return row;
};

describe('attendance report', () => {
  it('gives each viewer its times, counters, profile time and quality timeline', () => {
    const { alice, anon, carol } = lecture();
    const report = attendanceReport(streamRecord(), [alice, anon, carol], s(900));

    assert.equal(report.recording_id, 'lecture-1');
    assert.equal(report.started_at, '2024-01-15T10:00:00Z');
    assert.equal(report.ended_at, '2024-01-15T10:10:00Z');
    assert.equal(report.generated_at, '2024-01-15T10:15:00Z');
    assert.deepEqual(
      report.viewers.map((r) => r.viewer_id),
      ['alice', 'anon-7f3a', 'carol'],
    );

    assert.deepEqual(byViewer(report.viewers, 'alice'), {
      viewer_id: 'alice',
      anonymous: false,
      joined_at: '2024-01-15T10:00:00Z',
      left_at: '2024-01-15T10:05:00Z',
      leave_reason: 'left',
      last_seen_at: '2024-01-15T10:05:00Z',
      watch_seconds: 300,
      segments_received: 150,
      bytes_received: 1_500_000,
      seconds_per_profile: { VeryLow: 0, Low: 0, Medium: 200, High: 100 },
      profile_share: { VeryLow: 0, Low: 0, Medium: 0.6667, High: 0.3333 },
      switches: 1,
      low_buffer_events: 0,
      stalls: 0,
      connection_quality: [],
    });
  });

  it('does not count the idle wait of a viewer that expired as watch time', () => {
    const { anon } = lecture();
    const row = byViewer(attendanceReport(streamRecord(), [anon], s(900)).viewers, 'anon-7f3a');
    assert.equal(row.anonymous, true);
    assert.equal(row.leave_reason, 'idle');
    assert.equal(row.left_at, '2024-01-15T10:08:00Z');
    assert.equal(row.watch_seconds, 330, 'joined at 120 s, last request at 450 s');
    assert.deepEqual(row.profile_share, { VeryLow: 0, Low: 1, Medium: 0, High: 0 });
  });

  it('reports stalls, low-buffer events, switches and the connection quality over time', () => {
    const { carol } = lecture();
    const row = byViewer(attendanceReport(streamRecord(), [carol], s(900)).viewers, 'carol');
    assert.equal(row.stalls, 3);
    assert.equal(row.low_buffer_events, 5);
    assert.equal(row.switches, 130, 'the unbounded count, not the two kept in the history');
    assert.equal(row.watch_seconds, 358);
    assert.deepEqual(row.connection_quality, [
      {
        at: '2024-01-15T10:05:00Z',
        buffer_health: 15,
        throughput_kbps: 310,
        connection_quality: 'poor',
      },
      {
        at: '2024-01-15T10:06:40Z',
        buffer_health: 50,
        throughput_kbps: 1200,
        connection_quality: 'good',
      },
      {
        at: '2024-01-15T10:08:20Z',
        buffer_health: 90,
        throughput_kbps: 2501,
        connection_quality: 'excellent',
      },
    ]);
  });

  it('summarises peak, time-weighted average, watch time, profile shares and stall ratio', () => {
    const { alice, anon, carol } = lecture();
    const { summary } = attendanceReport(streamRecord(), [carol, alice, anon], s(900));
    assert.deepEqual(summary, {
      viewers: 3,
      joins: 3,
      peak_viewers: 3,
      // Presence 300 + 360 + 360 = 1020 s over a 600 s life.
      average_viewers: 1.7,
      total_watch_seconds: 988,
      average_watch_seconds: 329.333,
      seconds_per_profile: { VeryLow: 100, Low: 588, Medium: 200, High: 100 },
      profile_share: { VeryLow: 0.1012, Low: 0.5951, Medium: 0.2024, High: 0.1012 },
      low_buffer_events: 5,
      stalls: 3,
      // 3 stalls in 988 s = 16.4667 minutes of watching.
      stall_ratio: 0.1822,
    });
  });

  it('counts a viewer that left and came back once, with both visits in its watch time', () => {
    const first = sessionRecord({
      viewerId: 'dave',
      joinedAt: s(0),
      lastSeenAt: s(100),
      leftAt: s(100),
      leaveReason: 'left',
    });
    const second = sessionRecord({
      viewerId: 'dave',
      joinedAt: s(100),
      lastSeenAt: s(250),
      leftAt: s(300),
      leaveReason: 'idle',
    });
    const report = attendanceReport(streamRecord(), [first, second], s(900));
    assert.equal(report.viewers.length, 2);
    assert.equal(report.summary.viewers, 1);
    assert.equal(report.summary.joins, 2);
    assert.equal(report.summary.peak_viewers, 1, 'leaving at 100 s and rejoining at 100 s');
    assert.equal(report.summary.average_watch_seconds, 250);
    assert.equal(report.summary.average_viewers, 0.5, '300 s present in a 600 s life');
  });

  it('runs a live stream and a viewer still joined up to now', () => {
    const stream = streamRecord({ endedAt: undefined });
    const viewer = sessionRecord({ viewerId: 'erin', joinedAt: s(50), lastSeenAt: s(90) });
    const report = attendanceReport(stream, [viewer], s(100));
    assert.equal(report.ended_at, null);
    const row = byViewer(report.viewers, 'erin');
    assert.equal(row.left_at, null);
    assert.equal(row.leave_reason, null);
    assert.equal(row.watch_seconds, 40);
    assert.equal(report.summary.average_viewers, 0.5, 'present 50 s of a 100 s life so far');
    assert.equal(report.summary.peak_viewers, 1);
  });

  it('reports only the sessions of this incarnation of a reused recording id', () => {
    const { alice } = lecture();
    const earlier = sessionRecord({ viewerId: 'old-lecture', incarnation: 'inc-before' });
    const report = attendanceReport(streamRecord(), [earlier, alice], s(900));
    assert.deepEqual(
      report.viewers.map((r) => r.viewer_id),
      ['alice'],
    );
    assert.equal(report.summary.viewers, 1);
  });

  it('gives an empty stream zero figures and a null stall ratio', () => {
    const report = attendanceReport(streamRecord(), [], s(900));
    assert.deepEqual(report.viewers, []);
    assert.deepEqual(report.summary, {
      viewers: 0,
      joins: 0,
      peak_viewers: 0,
      average_viewers: 0,
      total_watch_seconds: 0,
      average_watch_seconds: 0,
      seconds_per_profile: { VeryLow: 0, Low: 0, Medium: 0, High: 0 },
      profile_share: { VeryLow: 0, Low: 0, Medium: 0, High: 0 },
      low_buffer_events: 0,
      stalls: 0,
      stall_ratio: null,
    });
  });

  it('never shows a session id', () => {
    const { alice, anon, carol } = lecture();
    const json = JSON.stringify(attendanceReport(streamRecord(), [alice, anon, carol], s(900)));
    assert.doesNotMatch(json, /SECRETSESSION/);
    assert.doesNotMatch(json, /session/i);
  });
});

describe('peak concurrent viewers', () => {
  it('counts a zero-length visit at its instant but not a handover at one instant', () => {
    assert.equal(peakConcurrent([]), 0);
    assert.equal(peakConcurrent([{ from: 5, to: 5 }]), 1);
    assert.equal(
      peakConcurrent([
        { from: 0, to: 10 },
        { from: 10, to: 20 },
      ]),
      1,
    );
    assert.equal(
      peakConcurrent([
        { from: 0, to: 10 },
        { from: 5, to: 20 },
        { from: 10, to: 10 },
      ]),
      2,
    );
    assert.equal(
      peakConcurrent([
        { from: 0, to: 10 },
        { from: 5, to: 20 },
        { from: 7, to: 7 },
      ]),
      3,
    );
  });
});

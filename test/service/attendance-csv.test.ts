import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ATTENDANCE_CSV_HEADER, attendanceCsv } from '../../src/service/attendance-csv.js';
import { attendanceReport } from '../../src/service/attendance-report.js';
import type { SessionRecord } from '../../src/storage/store.js';
import { s, sessionRecord, streamRecord } from './attendance-fixtures.js';

const HEADER =
  'viewer_id,anonymous,joined_at,left_at,leave_reason,watch_seconds,segments_received,' +
  'bytes_received,seconds_VeryLow,seconds_Low,seconds_Medium,seconds_High,share_VeryLow,' +
  'share_Low,share_Medium,share_High,switches,low_buffer_events,stalls';

const csvOf = (sessions: SessionRecord[]) =>
  attendanceCsv(attendanceReport(streamRecord(), sessions, s(900)));

describe('attendance CSV', () => {
  it('has a header row and one CRLF-ended row per viewer, nulls as empty cells', () => {
    const alice = sessionRecord({
      viewerId: 'alice',
      joinedAt: s(0),
      lastSeenAt: s(300),
      leftAt: s(300),
      leaveReason: 'left',
      segmentsReceived: 150,
      bytesReceived: 1_500_000,
      stalls: 2,
      lowBufferEvents: 4,
      profileMs: { Medium: 200_000, High: 100_000 },
      switchCount: 1,
      bitrateHistory: [{ from: 'Medium', to: 'High', at: s(200), reason: 'adaptation' }],
    });
    const bob = sessionRecord({
      viewerId: 'anon-1',
      anonymous: true,
      joinedAt: s(10),
      lastSeenAt: s(20.5),
    });
    assert.equal(ATTENDANCE_CSV_HEADER.join(','), HEADER);
    assert.equal(
      csvOf([alice, bob]),
      `${HEADER}\r\n` +
        'alice,false,2024-01-15T10:00:00Z,2024-01-15T10:05:00Z,left,300,150,1500000,' +
        '0,0,200,100,0,0,0.6667,0.3333,1,4,2\r\n' +
        'anon-1,true,2024-01-15T10:00:10Z,,,10.5,0,0,0,0,0,0,0,0,0,0,0,0,0\r\n',
    );
  });

  it('is only the header for a stream nobody watched', () => {
    assert.equal(csvOf([]), `${HEADER}\r\n`);
  });

  it('quotes commas, quotes and line breaks and defuses spreadsheet formulas', () => {
    // The viewer id schema forbids these characters; the CSV must still stay well formed.
    const rows = csvOf([
      sessionRecord({ viewerId: 'a,b' }),
      sessionRecord({ viewerId: 'say "hi"' }),
      sessionRecord({ viewerId: 'line1\nline2' }),
      sessionRecord({ viewerId: 'cr\rlf\r\n' }),
      sessionRecord({ viewerId: '=HYPERLINK("x")' }),
    ])
      // Each row's viewer id is followed by `,false,` and the rest of the row up to its CRLF.
      .split(/,false,[^\r\n]*\r\n/)
      .slice(0, -1);
    assert.deepEqual(rows, [
      `${HEADER}\r\n"a,b"`,
      '"say ""hi"""',
      '"line1\nline2"',
      '"cr\rlf\r\n"',
      `"'=HYPERLINK(""x"")"`,
    ]);
  });

  it('never shows a session id', () => {
    const csv = csvOf([sessionRecord({ viewerId: 'alice', lastSeenAt: s(60) })]);
    assert.doesNotMatch(csv, /SECRETSESSION/);
    assert.doesNotMatch(csv, /session/i);
  });
});

import { stringify } from 'csv-stringify/sync';
import { PROFILE_NAMES } from '../core/profiles.js';
import type { AttendanceReport, ViewerAttendance } from './attendance-report.js';

/** The CSV's media type, as the report route answers `Accept: text/csv`. */
export const ATTENDANCE_CSV_TYPE = 'text/csv; charset=utf-8';

type Cell = string | number | boolean | null;

/**
 * Columns of the CSV, one row per attendance. Per-profile figures become one column per ladder
 * profile; the connection-quality timeline has no flat form and stays in the JSON report.
 */
const COLUMNS: readonly (readonly [header: string, value: (row: ViewerAttendance) => Cell])[] = [
  ['viewer_id', (r) => r.viewer_id],
  ['anonymous', (r) => r.anonymous],
  ['joined_at', (r) => r.joined_at],
  ['left_at', (r) => r.left_at],
  ['leave_reason', (r) => r.leave_reason],
  ['watch_seconds', (r) => r.watch_seconds],
  ['segments_received', (r) => r.segments_received],
  ['bytes_received', (r) => r.bytes_received],
  ...PROFILE_NAMES.map(
    (name) => [`seconds_${name}`, (r: ViewerAttendance) => r.seconds_per_profile[name]] as const,
  ),
  ...PROFILE_NAMES.map(
    (name) => [`share_${name}`, (r: ViewerAttendance) => r.profile_share[name]] as const,
  ),
  ['switches', (r) => r.switches],
  ['low_buffer_events', (r) => r.low_buffer_events],
  ['stalls', (r) => r.stalls],
];

/** The header names, in column order. */
export const ATTENDANCE_CSV_HEADER: readonly string[] = COLUMNS.map(([header]) => header);

/**
 * The report's viewer rows as CSV (RFC 4180: CRLF line ends, quoting by csv-stringify), with a
 * header row even when nobody attended. A null (still joined) is an empty cell; booleans are
 * `true`/`false` rather than the library's default 1/empty, so the column reads unambiguously.
 * Cells a spreadsheet would run as a formula (=, +, -, @ first) are escaped by the library.
 * With CRLF records the library quotes only a field holding the whole CRLF, so a bare CR or LF is
 * named in `quoted_match`: readers that split lines on either would otherwise break the row.
 */
export function attendanceCsv(report: AttendanceReport): string {
  return stringify(
    report.viewers.map((row) => COLUMNS.map(([, value]) => value(row))),
    {
      header: true,
      columns: [...ATTENDANCE_CSV_HEADER],
      record_delimiter: 'windows',
      escape_formulas: true,
      quoted_match: /[\r\n]/,
      cast: { boolean: (value) => String(value) },
    },
  );
}

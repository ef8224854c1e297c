import { Negotiator } from '@fastify/accept-negotiator';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { StreamNotFoundError } from '../../core/errors.js';
import { ATTENDANCE_CSV_TYPE, attendanceCsv } from '../../service/attendance-csv.js';
import { attendanceReport } from '../../service/attendance-report.js';
import type { RouteDeps } from '../app.js';
import { tagged } from '../operation-docs.js';
import { AttendanceReportReply } from '../response-schemas.js';
import { envelope } from '../responses.js';
import { StreamParams } from '../schemas.js';

/** JSON unless the client prefers CSV; an Accept naming neither still gets JSON, not a 406. */
const formats = new Negotiator({ supportedValues: ['application/json', 'text/csv'] });

/** A file name safe in a quoted header parameter: ids may hold characters a name may not. */
function csvFileName(recordingId: string): string {
  return `attendance-${recordingId.replace(/[^A-Za-z0-9._-]/g, '_')}.csv`;
}

/**
 * The attendance report of a stream (README "Attendance report"): read from the store, so it
 * covers ended and retired streams too, and every viewer that left. Admin only, like the
 * other operations that show every viewer.
 */
export const reportRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { attendance, admin },
) => {
  app.get(
    '/api/v1/streams/:recording_id/report',
    {
      onRequest: admin,
      schema: {
        summary: "A stream's attendance report (JSON, or CSV with Accept: text/csv)",
        description:
          'Who watched, for how long, at which profiles and how well (low-buffer events, ' +
          'stalls), for live, ended and retired streams the server still stores.',
        tags: tagged('streams'),
        params: StreamParams,
        response: { 200: AttendanceReportReply },
      },
    },
    async (request, reply) => {
      const id = request.params.recording_id;
      const stored = attendance?.attendance(id);
      if (!stored) throw new StreamNotFoundError(id);
      const report = attendanceReport(stored.stream, stored.sessions, Date.now());
      const accept = request.headers.accept;
      reply.header('vary', 'Accept');
      if (accept !== undefined && formats.negotiate(accept) === 'text/csv') {
        return reply
          .type(ATTENDANCE_CSV_TYPE)
          .header('content-disposition', `attachment; filename="${csvFileName(id)}"`)
          .send(attendanceCsv(report));
      }
      return envelope(report, 'Attendance report generated');
    },
  );
};

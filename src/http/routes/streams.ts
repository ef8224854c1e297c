import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { DistributionError } from '../../core/errors.js';
import { PROFILE_NAMES } from '../../core/profiles.js';
import type { RouteDeps } from '../app.js';
import { envelope, streamStatistics, streamSummary, viewerRow } from '../responses.js';
import {
  JoinBody,
  LeaveQuery,
  NextParams,
  NextQuery,
  StartStreamBody,
  StreamParams,
} from '../schemas.js';
import { encoderJson } from './transcode.js';

/** The seed's stream endpoints, plus end and the per-viewer cursor (GetNextSegment). */
export const streamRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { service, ingest, encoders, admin } = deps;

  app.post(
    '/api/v1/streams/start',
    { onRequest: admin, schema: { body: StartStreamBody } },
    async (request, reply) => {
      const { recording_id, max_viewers, publish_key } = request.body;
      if (recording_id === 'start') {
        // POST /api/v1/streams/start is this route, so a stream named "start" could not be joined.
        throw new DistributionError(
          'INVALID_REQUEST',
          "recording_id 'start' is reserved",
          'recording_id',
        );
      }
      const distributor = service.startLiveStream(recording_id, max_viewers);
      if (publish_key !== undefined) ingest.setPublishKey(recording_id, publish_key);
      return reply.code(201).send(
        envelope(
          {
            recording_id,
            stream_id: `stream-${recording_id}`,
            status: 'started',
            max_viewers: distributor.maxViewers,
            profiles: [...PROFILE_NAMES],
            profile_max_viewers: distributor.profileCaps,
          },
          'Live stream started successfully',
        ),
      );
    },
  );

  app.post(
    '/api/v1/streams/:recording_id',
    { schema: { params: StreamParams, body: JoinBody } },
    async (request, reply) => {
      const { recording_id: id } = request.params;
      const { viewer_id, initial_bitrate } = request.body;
      const session = service.joinStream(id, viewer_id, initial_bitrate);
      return reply.code(201).send(
        envelope(
          {
            recording_id: id,
            viewer_id,
            session_id: session.sessionId,
            requested_bitrate: initial_bitrate ?? 'Low',
            current_bitrate: session.currentBitrate,
            buffer_health: session.bufferHealth,
          },
          'Viewer joined successfully',
        ),
      );
    },
  );

  app.get('/api/v1/streams', async () => {
    return envelope(
      {
        // The dashboard polls this: summaries only, no per-viewer rows are formatted.
        streams: service.getAllStreamStatistics().map((stats) => {
          const encoder = encoders.statusFor(stats.recordingId);
          return {
            ...streamSummary(stats),
            average_buffer_health: average(stats.viewers.map((v) => v.bufferHealth)),
            connection_quality: countBy(stats.viewers.map((v) => v.connectionQuality)),
            encoder: encoder ? encoderJson(encoder) : null,
          };
        }),
      },
      'Streams retrieved successfully',
    );
  });

  app.get(
    '/api/v1/streams/:recording_id/viewers/:viewer_id',
    { schema: { params: NextParams } },
    async (request) => {
      const { recording_id, viewer_id } = request.params;
      const session = service.getDistributor(recording_id).session(viewer_id);
      return envelope(
        { recording_id, ...viewerRow(session, Date.now()) },
        'Viewer retrieved successfully',
      );
    },
  );

  app.get(
    '/api/v1/streams/:recording_id',
    { schema: { params: StreamParams } },
    async (request) => {
      const stats = service.getStreamStatistics(request.params.recording_id);
      return envelope(streamStatistics(stats, Date.now()), 'Statistics retrieved successfully');
    },
  );

  app.delete(
    '/api/v1/streams/:recording_id',
    { schema: { params: StreamParams, querystring: LeaveQuery } },
    async (request) => {
      const { recording_id: id } = request.params;
      const session = service.leaveStream(id, request.query.viewer_id);
      return envelope(
        {
          recording_id: id,
          viewer_id: session.viewerId,
          session_id: session.sessionId,
          segments_received: session.segmentsReceived,
          bytes_received: session.bytesReceived,
        },
        'Viewer left successfully',
      );
    },
  );

  app.post(
    '/api/v1/streams/:recording_id/end',
    { onRequest: admin, schema: { params: StreamParams } },
    async (request) => {
      const stats = service.endLiveStream(request.params.recording_id);
      await encoders.stopForStream(request.params.recording_id);
      return envelope(
        {
          recording_id: stats.recordingId,
          status: stats.status,
          peak_viewers: stats.peakViewers,
          total_segments_served: stats.totalSegmentsServed,
          total_bytes_served: stats.totalBytesServed,
        },
        'Live stream ended',
      );
    },
  );

  app.get(
    '/api/v1/streams/:recording_id/viewers/:viewer_id/next',
    { schema: { params: NextParams, querystring: NextQuery } },
    async (request, reply) => {
      const { recording_id: id, viewer_id } = request.params;
      const waitMs = Math.min(
        request.query.wait_ms === undefined ? deps.longPollMs : Number(request.query.wait_ms),
        deps.maxLongPollMs,
      );
      // Stop waiting as soon as the client goes away.
      const abort = new AbortController();
      reply.raw.once('close', () => abort.abort());
      const segment = await service.waitForNextSegment(id, viewer_id, waitMs, abort.signal);
      if (!segment) {
        const ended = service.getDistributor(id).status === 'ended';
        return reply
          .code(204)
          .header('x-stream-status', ended ? 'ended' : 'live')
          .send();
      }
      return reply
        .header('content-type', segment.contentType)
        .header('cache-control', 'private, no-store')
        .header('x-segment-id', segment.id)
        .header('x-segment-sequence', String(segment.sequence))
        .header('x-segment-profile', segment.profile)
        .header('x-segment-duration', String(segment.durationSec))
        .send(segment.data);
    },
  );
};

function average(values: number[]): number | null {
  if (values.length === 0) return null;
  return Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 10) / 10;
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

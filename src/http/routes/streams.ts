import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ViewerPage } from '../../core/distributor.js';
import { DistributionError } from '../../core/errors.js';
import { PROFILE_NAMES } from '../../core/profiles.js';
import { PublishingOffError } from '../../ingest/publish-errors.js';
import type { PublishingControl } from '../../ingest/publish-ingest.js';
import { isStreamKeyFormat } from '../../ingest/rtmp/stream-key.js';
import { PlaybackTokenError } from '../../service/playback-tokens.js';
import type { RouteDeps } from '../app.js';
import { STATISTICS_SECURITY, tagged, VIEWER_SECURITY } from '../operation-docs.js';
import {
  located,
  media,
  noBody,
  StreamEnded,
  StreamList,
  StreamStarted,
  StreamStatistics,
  ViewerJoined,
  ViewerLeft,
  ViewerRow,
} from '../response-schemas.js';
import {
  envelope,
  ingestJson,
  publishUrlsJson,
  streamStatistics,
  streamSummary,
  viewerRow,
} from '../responses.js';
import {
  DEFAULT_PAGE_LIMIT,
  JoinBody,
  JoinQuery,
  LeaveQuery,
  MAX_PAGE_LIMIT,
  NextParams,
  NextQuery,
  StartStreamBody,
  StatsQuery,
  StreamParams,
} from '../schemas.js';
import { encoderJson } from './transcode.js';

/** The seed's stream endpoints, plus end and the per-viewer cursor (GetNextSegment). */
export const streamRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { service, ingest, encoders, admin, access, playback, publishing } = deps;

  app.post(
    '/api/v1/streams/start',
    {
      onRequest: admin,
      schema: {
        summary: 'Start a live stream',
        tags: tagged('streams'),
        body: StartStreamBody,
        response: { 201: located(StreamStarted, 'the stream') },
      },
    },
    async (request, reply) => {
      const { recording_id, max_viewers, publish_key, dvr_seconds, stream_key } = request.body;
      if (recording_id === 'start') {
        // POST /api/v1/streams/start is this route, so a stream named "start" could not be joined.
        throw new DistributionError(
          'INVALID_REQUEST',
          "recording_id 'start' is reserved",
          'recording_id',
        );
      }
      if (stream_key) checkStreamKeyRequest(publishing, publish_key, recording_id);
      const distributor = service.startLiveStream(recording_id, max_viewers, dvr_seconds);
      if (publish_key !== undefined) ingest.access.setPublishKey(recording_id, publish_key);
      if (stream_key) publishing?.issueKey(recording_id, publish_key);
      const urls = stream_key ? publishing?.urls(recording_id, request.hostname) : undefined;
      return reply
        .code(201)
        .header('location', `/api/v1/streams/${encodeURIComponent(recording_id)}`)
        .send(
          envelope(
            {
              recording_id,
              stream_id: `stream-${recording_id}`,
              status: 'started',
              max_viewers: distributor.maxViewers,
              profiles: [...PROFILE_NAMES],
              profile_max_viewers: distributor.profileCaps,
              ...(urls && { ingest: publishUrlsJson(urls) }),
            },
            'Live stream started successfully',
          ),
        );
    },
  );

  app.post(
    '/api/v1/streams/:recording_id',
    {
      schema: {
        summary: 'Join a viewer to a stream',
        description:
          'Returns the session (the bearer token of the viewer routes) and a ready playback URL.',
        tags: tagged('streams'),
        params: StreamParams,
        body: JoinBody,
        querystring: JoinQuery,
        response: { 201: located(ViewerJoined, "the viewer's row") },
      },
      config: { rateLimit: deps.joinRateLimit },
    },
    async (request, reply) => {
      const { recording_id: id } = request.params;
      const { viewer_id, initial_bitrate } = request.body;
      // With playback tokens, a join needs one for this stream (and this viewer, if it names one).
      if (playback && !access.presentsAdminToken(request)) {
        const grant = await playback.check(request.query.token, id);
        if (grant.viewerId !== undefined && grant.viewerId !== viewer_id) {
          throw new PlaybackTokenError(true, 'the playback token is for another viewer');
        }
      }
      // Admitted only now, authorised: with --state-url the seat is taken across origins here.
      const session = await service.admitViewer(id, viewer_id, initial_bitrate);
      const query = new URLSearchParams({ session: session.sessionId });
      if (playback) query.set('token', await playback.issue(id, viewer_id));
      const path = `/live/${encodeURIComponent(id)}/master.m3u8?${query}`;
      return reply
        .code(201)
        .header(
          'location',
          `/api/v1/streams/${encodeURIComponent(id)}/viewers/${encodeURIComponent(viewer_id)}`,
        )
        .send(
          envelope(
            {
              recording_id: id,
              viewer_id,
              session_id: session.sessionId,
              requested_bitrate: initial_bitrate ?? 'Low',
              current_bitrate: session.currentBitrate,
              buffer_health: session.bufferHealth,
              playback_url: `${request.protocol}://${request.host}${path}`,
            },
            'Viewer joined successfully',
          ),
        );
    },
  );

  const listSchema = {
    summary: 'Every stream, summarised',
    tags: tagged('streams'),
    response: { 200: StreamList },
  };
  app.get('/api/v1/streams', { schema: listSchema }, async () => {
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
            ingest: ingestJson(publishing?.status(stats.recordingId)),
          };
        }),
      },
      'Streams retrieved successfully',
    );
  });

  app.get(
    '/api/v1/streams/:recording_id/viewers/:viewer_id',
    {
      schema: {
        summary: "One viewer's row",
        tags: tagged('streams'),
        security: VIEWER_SECURITY,
        params: NextParams,
        response: { 200: ViewerRow },
      },
    },
    async (request) => {
      const { recording_id, viewer_id } = request.params;
      access.requireViewer(request, recording_id, viewer_id);
      const session = service.getDistributor(recording_id).session(viewer_id);
      return envelope(
        { recording_id, ...viewerRow(session, Date.now()) },
        'Viewer retrieved successfully',
      );
    },
  );

  app.get(
    '/api/v1/streams/:recording_id',
    {
      schema: {
        summary: 'Statistics of a stream, with a page of viewer rows',
        tags: tagged('streams'),
        security: STATISTICS_SECURITY,
        params: StreamParams,
        querystring: StatsQuery,
        response: { 200: StreamStatistics },
      },
    },
    async (request) => {
      const id = request.params.recording_id;
      const distributor = service.getDistributor(id);
      const caller = access.caller(request);
      const limit = pageLimit(request.query.limit);
      // The operator pages through every viewer; a viewer sees its own row; anyone else, none.
      let page: ViewerPage = { sessions: [], nextAfter: undefined };
      if (caller.role === 'admin') {
        page = distributor.viewerPage(Number(request.query.cursor ?? 0), limit);
      } else if (caller.role === 'viewer' && caller.recordingId === id) {
        page = { sessions: [distributor.session(caller.viewerId)], nextAfter: undefined };
      }
      return envelope(
        {
          ...streamStatistics(distributor.getSummary(), page, Date.now()),
          ingest: ingestJson(publishing?.status(id)),
        },
        'Statistics retrieved successfully',
      );
    },
  );

  app.delete(
    '/api/v1/streams/:recording_id',
    {
      schema: {
        summary: 'A viewer leaves',
        tags: tagged('streams'),
        security: VIEWER_SECURITY,
        params: StreamParams,
        querystring: LeaveQuery,
        response: { 200: ViewerLeft },
      },
    },
    async (request) => {
      const { recording_id: id } = request.params;
      access.requireViewer(request, id, request.query.viewer_id);
      const session = service.leaveStream(id, request.query.viewer_id);
      return envelope(
        {
          recording_id: id,
          viewer_id: session.viewerId,
          segments_received: session.segmentsReceived,
          bytes_received: session.bytesReceived,
        },
        'Viewer left successfully',
      );
    },
  );

  app.post(
    '/api/v1/streams/:recording_id/end',
    {
      onRequest: admin,
      schema: {
        summary: 'End a stream',
        tags: tagged('streams'),
        params: StreamParams,
        response: { 200: StreamEnded },
      },
    },
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
    {
      schema: {
        summary: "The viewer's next segment (long poll)",
        tags: tagged('streams'),
        security: VIEWER_SECURITY,
        params: NextParams,
        querystring: NextQuery,
        response: {
          200: media('the segment, described by its X-Segment-* headers'),
          204: noBody('no segment within wait_ms (X-Stream-Status: live or ended)'),
        },
      },
    },
    async (request, reply) => {
      const { recording_id: id, viewer_id } = request.params;
      access.requireViewer(request, id, viewer_id);
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

/** The page size a request asks for, within 1 to MAX_PAGE_LIMIT. */
function pageLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_PAGE_LIMIT;
  const limit = Number(raw);
  if (limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new DistributionError(
      'INVALID_REQUEST',
      `limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}`,
      'limit',
    );
  }
  return limit;
}

function average(values: number[]): number | null {
  if (values.length === 0) return null;
  return Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 10) / 10;
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

/**
 * A stream key needs publishing on; a publish key serving as one must have a stream key's form
 * (it becomes an RTMP path and the SRT passphrase).
 */
function checkStreamKeyRequest(
  publishing: PublishingControl | undefined,
  publishKey: string | undefined,
  recordingId: string,
): void {
  if (!publishing) throw new PublishingOffError('stream_key');
  if (publishKey === undefined) return;
  const problem = !isStreamKeyFormat(publishKey)
    ? 'it needs 16 to 64 of A-Z a-z 0-9 _ -'
    : (publishing.streamOf(publishKey) ?? recordingId) !== recordingId
      ? 'it is the stream key of another stream (a key names one stream)'
      : undefined;
  if (problem) {
    throw new DistributionError(
      'INVALID_REQUEST',
      `publish_key cannot serve as a stream key: ${problem}; leave it out for a random stream key`,
      'publish_key',
    );
  }
}

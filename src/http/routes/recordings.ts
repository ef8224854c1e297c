import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { rfc3339 } from '../../core/timestamp.js';
import {
  RecordingNotFoundError,
  type RecordingSummary,
  type Recordings,
} from '../../service/recordings.js';
import type { RouteDeps } from '../app.js';
import { tagged } from '../operation-docs.js';
import { Recording, RecordingDeleted, RecordingList } from '../response-schemas.js';
import { envelope } from '../responses.js';
import { Id } from '../schemas.js';

const RecordingParams = Type.Object({ recording_id: Id });

/**
 * The server's recordings, to look `recordingId` up in; without a data directory there are none,
 * so it is not found.
 */
export function recordingsFor(recordings: Recordings | undefined, recordingId: string): Recordings {
  if (!recordings) throw new RecordingNotFoundError(recordingId);
  return recordings;
}

function recordingJson(recording: RecordingSummary) {
  const base = `/vod/${encodeURIComponent(recording.recordingId)}`;
  return {
    recording_id: recording.recordingId,
    status: recording.status,
    started_at: rfc3339(recording.startedAt),
    ended_at: rfc3339(recording.endedAt),
    duration_seconds: Math.round(recording.durationSeconds * 1000) / 1000,
    bytes: recording.bytes,
    renditions: [...recording.renditions],
    master_url: recording.status === 'complete' ? `${base}/master.m3u8` : null,
  };
}

/** The recordings API (README "Recordings"): list, one, delete. */
export const recordingRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { recordings, admin },
) => {
  app.get(
    '/api/v1/recordings',
    {
      schema: {
        summary: 'List recordings (empty without a data directory)',
        tags: tagged('recordings'),
        response: { 200: RecordingList },
      },
    },
    async () => {
      const list = recordings?.list() ?? [];
      return envelope(
        { recordings: list.map(recordingJson), count: list.length },
        'Recordings retrieved successfully',
      );
    },
  );

  app.get(
    '/api/v1/recordings/:recording_id',
    {
      schema: {
        summary: 'One recording',
        tags: tagged('recordings'),
        params: RecordingParams,
        response: { 200: Recording },
      },
    },
    async (request) => {
      const id = request.params.recording_id;
      const recording = recordingsFor(recordings, id).get(id);
      return envelope(recordingJson(recording), 'Recording retrieved successfully');
    },
  );

  app.delete(
    '/api/v1/recordings/:recording_id',
    {
      onRequest: admin,
      schema: {
        summary: 'Delete a recording (not while its stream is live)',
        tags: tagged('recordings'),
        params: RecordingParams,
        response: { 200: RecordingDeleted },
      },
    },
    async (request) => {
      const id = request.params.recording_id;
      const freed = await recordingsFor(recordings, id).delete(id);
      return envelope(
        { recording_id: id, status: 'deleted' as const, bytes_freed: freed },
        'Recording deleted successfully',
      );
    },
  );
};

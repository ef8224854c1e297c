import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { PublishingOffError, StreamKeyNotFoundError } from '../../ingest/publish-errors.js';
import type { RouteDeps } from '../app.js';
import { tagged } from '../operation-docs.js';
import { IngestUrls } from '../response-schemas.js';
import { envelope, ingestJson, publishUrlsJson } from '../responses.js';
import { StreamParams } from '../schemas.js';

/** Where a lecturer publishes a stream from OBS (its stream key inside: admin only). */
export const publishingRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { service, admin, publishing },
) => {
  app.get(
    '/api/v1/streams/:recording_id/ingest',
    {
      onRequest: admin,
      schema: {
        summary: "A stream's publish URLs (RTMP, SRT) and its publishing now",
        description:
          'The URLs carry the stream key; they use the host name this request was sent to.',
        tags: tagged('streams'),
        params: StreamParams,
        response: { 200: IngestUrls },
      },
    },
    async (request) => {
      const id = request.params.recording_id;
      service.getDistributor(id); // STREAM_NOT_FOUND for a stream that does not exist
      if (!publishing) throw new PublishingOffError('recording_id');
      const urls = publishing.urls(id, request.hostname);
      if (!urls) throw new StreamKeyNotFoundError(id);
      return envelope(
        { recording_id: id, ...publishUrlsJson(urls), ingest: ingestJson(publishing.status(id)) },
        'Publish URLs retrieved successfully',
      );
    },
  );
};

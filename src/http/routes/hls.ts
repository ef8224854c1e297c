import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { SegmentNotFoundError } from '../../core/errors.js';
import type { Segment } from '../../core/segment.js';
import type { RouteDeps } from '../app.js';
import { clientReport } from '../cmcd.js';
import { Id, Profile } from '../schemas.js';

const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';
const StreamParams = Type.Object({ recording_id: Id });
const RenditionParams = Type.Object({ recording_id: Id, profile: Profile });
const ObjectParams = Type.Object({ recording_id: Id, profile: Profile, file: Id });
const MediaQuery = Type.Object({
  session: Type.Optional(Id),
  CMCD: Type.Optional(Type.String({ maxLength: 4096 })),
});

/** HLS delivery: multivariant and media playlists, segments and init sections from memory. */
export const hlsRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { hls }) => {
  app.get(
    '/live/:recording_id/master.m3u8',
    { schema: { params: StreamParams, querystring: MediaQuery } },
    async (request, reply) => {
      const { text, session } = hls.multivariant(
        request.params.recording_id,
        clientReport(request.query, request.headers),
      );
      return reply
        .header('content-type', PLAYLIST_TYPE)
        .header('cache-control', 'private, no-store')
        .header('x-vtp-session', session.sessionId)
        .send(text);
    },
  );

  app.get(
    '/live/:recording_id/:profile/index.m3u8',
    { schema: { params: RenditionParams, querystring: MediaQuery } },
    async (request, reply) => {
      const { recording_id: id, profile } = request.params;
      const report = clientReport(request.query, request.headers);
      const text = hls.mediaPlaylist(id, profile, report);
      // No longer than half a target duration, so players polling each target duration see news.
      const maxAge = Math.max(1, Math.floor(hls.targetDurationSec(id, profile) / 2));
      const scope = report.sessionId ? 'private' : 'public';
      return reply
        .header('content-type', PLAYLIST_TYPE)
        .header('cache-control', `${scope}, max-age=${maxAge}`)
        .send(text);
    },
  );

  app.get(
    '/live/:recording_id/:profile/:file',
    { schema: { params: ObjectParams, querystring: MediaQuery } },
    async (request, reply) => {
      const { recording_id: id, profile, file } = request.params;
      const object = hls.object(id, profile, file);
      if (!object) throw new SegmentNotFoundError(file, profile);
      const etag = `"${id}/${profile}/${object.id}/${object.data.byteLength}"`;
      reply
        .header('content-type', object.contentType)
        // Published segments never change: a CDN keeps one copy for every viewer.
        .header('cache-control', 'public, max-age=86400, immutable')
        .header('etag', etag);
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      if ('sequence' in object && request.method === 'GET') {
        const report = clientReport(request.query, request.headers);
        const started = performance.now();
        const segment: Segment = object;
        reply.raw.once('finish', () => {
          try {
            hls.recordSegmentSent(
              id,
              segment,
              segment.data.byteLength,
              performance.now() - started,
              report,
            );
          } catch (error) {
            request.log.debug({ err: error }, 'segment sent after its stream was removed');
          }
        });
      }
      return reply.send(
        Buffer.from(object.data.buffer, object.data.byteOffset, object.data.byteLength),
      );
    },
  );
};

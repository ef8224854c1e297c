import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { SegmentNotFoundError } from '../../core/errors.js';
import type { Segment } from '../../core/segment.js';
import type { ClientReport } from '../../service/hls-delivery.js';
import { PlaybackTokenError } from '../../service/playback-tokens.js';
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
  token: Type.Optional(Type.String({ maxLength: 4096 })),
});

/** HLS delivery: multivariant and media playlists, segments and init sections from memory. */
export const hlsRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { hls, playback, sessions },
) => {
  /**
   * With a playback secret, playlists need a token for their stream; one that names a viewer
   * serves only that viewer's session. Segments need none: their URIs carry no identity, so a
   * CDN keeps one copy, and a player cannot find them without a playlist.
   */
  const checkPlayback = async (
    recordingId: string,
    token: string | undefined,
    report: ClientReport,
  ) => {
    if (!playback) return;
    const grant = await playback.check(token, recordingId);
    if (grant.viewerId === undefined || report.sessionId === undefined) return;
    const found = sessions.findSession(report.sessionId);
    if (found && found.session.viewerId !== grant.viewerId) {
      throw new PlaybackTokenError(true, 'the playback token is for another viewer');
    }
  };

  app.get(
    '/live/:recording_id/master.m3u8',
    { schema: { params: StreamParams, querystring: MediaQuery } },
    async (request, reply) => {
      const id = request.params.recording_id;
      const report = clientReport(request.query, request.headers, request.ip);
      await checkPlayback(id, request.query.token, report);
      const { text, sessionId } = hls.multivariant(id, report, {
        probe: request.method === 'HEAD',
        token: playback ? request.query.token : undefined,
      });
      if (sessionId !== undefined) reply.header('x-vtp-session', sessionId);
      return reply
        .header('content-type', PLAYLIST_TYPE)
        .header('cache-control', 'private, no-store')
        .send(text);
    },
  );

  app.get(
    '/live/:recording_id/:profile/index.m3u8',
    { schema: { params: RenditionParams, querystring: MediaQuery } },
    async (request, reply) => {
      const { recording_id: id, profile } = request.params;
      const report = clientReport(request.query, request.headers, request.ip);
      await checkPlayback(id, request.query.token, report);
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
        const report = clientReport(request.query, request.headers, request.ip);
        hls.claimSeat(id, report);
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

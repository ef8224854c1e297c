import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { SegmentNotFoundError } from '../../core/errors.js';
import { IMMUTABLE_CACHE_CONTROL, PLAYLIST_TYPE } from '../../hls/http-caching.js';
import type { RouteDeps } from '../app.js';
import { type ByteRange, RangeNotSatisfiableError, requestedRange } from '../byte-range.js';
import { ifNoneMatchHits } from '../entity-tag.js';
import { tagged } from '../operation-docs.js';
import { noBody, streamedMedia, text } from '../response-schemas.js';
import { Id, Profile } from '../schemas.js';
import { recordingsFor } from './recordings.js';

const RecordingParams = Type.Object({ recording_id: Id });
const RenditionParams = Type.Object({ recording_id: Id, profile: Profile });
const ObjectParams = Type.Object({ recording_id: Id, profile: Profile, file: Id });
const PlaylistQuery = Type.Object({ token: Type.Optional(Type.String({ maxLength: 4096 })) });

/**
 * A recording's playlists never change once its stream ended, but deleting it (or a new stream
 * of the id replacing it) takes them away: cached briefly, not immutably. Segments keep their
 * live URLs' rule: their names carry the incarnation, so their bytes never change.
 */
const PLAYLIST_MAX_AGE_SEC = 60;

/** VOD of recordings (README "Recordings"): playlists and segments served from disk. */
export const vodRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { recordings, playback },
) => {
  /**
   * With a playback secret a recording's playlists need a token for its stream, as the live ones
   * do; segments need none (their names are not guessable without a playlist, as live).
   */
  const checkPlayback = async (recordingId: string, token: string | undefined) => {
    if (playback) await playback.check(token, recordingId);
  };
  const playlist = (reply: FastifyReply, body: string) =>
    reply
      .header('content-type', PLAYLIST_TYPE)
      .header('cache-control', `public, max-age=${PLAYLIST_MAX_AGE_SEC}`)
      .send(body);

  app.get(
    '/vod/:recording_id/master.m3u8',
    {
      schema: {
        summary: 'Multivariant playlist of a recording',
        tags: tagged('recordings'),
        params: RecordingParams,
        querystring: PlaylistQuery,
        response: { 200: text('the VOD multivariant playlist', PLAYLIST_TYPE) },
      },
    },
    async (request, reply) => {
      const id = request.params.recording_id;
      const { token } = request.query;
      await checkPlayback(id, token);
      const variantQuery = playback && token ? `?token=${encodeURIComponent(token)}` : '';
      return playlist(reply, await recordingsFor(recordings, id).multivariant(id, variantQuery));
    },
  );

  app.get(
    '/vod/:recording_id/:profile/index.m3u8',
    {
      schema: {
        summary: 'VOD media playlist of a rendition of a recording',
        tags: tagged('recordings'),
        params: RenditionParams,
        querystring: PlaylistQuery,
        response: { 200: text('the VOD media playlist', PLAYLIST_TYPE) },
      },
    },
    async (request, reply) => {
      const { recording_id: id, profile } = request.params;
      await checkPlayback(id, request.query.token);
      return playlist(reply, await recordingsFor(recordings, id).mediaPlaylist(id, profile));
    },
  );

  app.get(
    '/vod/:recording_id/:profile/:file',
    {
      schema: {
        summary: 'Segment or init section of a recording, from disk',
        tags: tagged('recordings'),
        params: ObjectParams,
        response: {
          200: streamedMedia('the segment or init section'),
          206: streamedMedia('the requested byte range'),
          304: noBody('unchanged (If-None-Match)'),
        },
      },
    },
    async (request, reply) => {
      const { recording_id: id, profile, file } = request.params;
      const object = recordingsFor(recordings, id).object(id, profile, file);
      if (!object) throw new SegmentNotFoundError(file, profile);
      const { size, etag } = object;
      reply.header('accept-ranges', 'bytes');
      reply.header('cache-control', IMMUTABLE_CACHE_CONTROL).header('etag', etag);
      if (ifNoneMatchHits(request.headers['if-none-match'], etag)) return reply.code(304).send();
      let range: ByteRange | undefined;
      try {
        range = requestedRange(request.headers, size, etag);
      } catch (error) {
        if (error instanceof RangeNotSatisfiableError) {
          reply.header('content-range', `bytes */${size}`);
        }
        throw error;
      }
      const start = range?.start ?? 0;
      const end = range?.end ?? size - 1;
      reply.header('content-type', object.contentType).header('content-length', end - start + 1);
      if (range) reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);
      // HEAD answers the headers alone without opening the file: Fastify keeps the
      // Content-Length set above for a stream body (a Buffer's own length would replace it).
      if (request.method === 'HEAD') return reply.send(Readable.from([]));
      if (size === 0) return reply.send(Buffer.alloc(0));
      // Streamed from disk: a recording is larger than memory should hold.
      return reply.send(object.open({ start, end }));
    },
  );
};

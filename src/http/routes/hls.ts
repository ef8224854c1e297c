import type { IncomingHttpHeaders } from 'node:http';
import { constants as zlib } from 'node:zlib';
import compress from '@fastify/compress';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { type Static, Type } from 'typebox';
import { SegmentNotFoundError } from '../../core/errors.js';
import type { Segment } from '../../core/segment.js';
import {
  IMMUTABLE_CACHE_CONTROL,
  PLAYLIST_TYPE,
  playlistMaxAgeSec,
} from '../../hls/http-caching.js';
import { type ClientReport, STEERED_FOLDER } from '../../service/hls-delivery.js';
import { PlaybackTokenError } from '../../service/playback-tokens.js';
import type { RouteDeps } from '../app.js';
import { type ByteRange, RangeNotSatisfiableError, requestedRange } from '../byte-range.js';
import { clientReport } from '../cmcd.js';
import { ifNoneMatchHits } from '../entity-tag.js';
import { tagged } from '../operation-docs.js';
import { media, noBody, text } from '../response-schemas.js';
import { Id, Profile } from '../schemas.js';

const StreamParams = Type.Object({ recording_id: Id });
const RenditionParams = Type.Object({ recording_id: Id, profile: Profile });
const ObjectParams = Type.Object({ recording_id: Id, profile: Profile, file: Id });
const MediaQuery = Type.Object({
  session: Type.Optional(Id),
  CMCD: Type.Optional(Type.String({ maxLength: 4096 })),
  token: Type.Optional(Type.String({ maxLength: 4096 })),
});
const MasterQuery = Type.Object({
  ...MediaQuery.properties,
  abr: Type.Optional(
    Type.Enum(['player', 'server'], {
      description:
        'server: one variant whose segments the server picks for the viewer (README "Server-side steering"); player (default): every rendition, the player picks',
    }),
  ),
});

/**
 * How playlists are compressed. Every response is compressed anew (each carries its viewer's
 * session), so compression is most of a playlist request's cost (`npm run bench`: rendering
 * ~5 us, gzip ~45 us, brotli at quality 4 ~60 us, at its own default of 11 ~1.8 ms). gzip is
 * preferred: brotli saves only ~30 of ~240 bytes on a six-segment playlist (~820 bytes with a
 * session), not worth its extra time on every poll; brotli stays, at quality 4, for clients that
 * take nothing else. The threshold spares only the header-and-a-segment playlists of a stream's
 * first seconds, which gain a few dozen bytes.
 */
export const PLAYLIST_COMPRESSION = {
  thresholdBytes: 256,
  brotliQuality: 4,
} as const;

/**
 * Playlists may be sent compressed, so a cache keeps one copy per encoding; added to whatever
 * Vary another part of the app set (CORS, say). A string check, as it runs on every playlist.
 */
function varyOnEncoding(reply: FastifyReply): FastifyReply {
  const current = reply.getHeader('vary');
  if (current === undefined) return reply.header('vary', 'accept-encoding');
  const value = String(current);
  const lower = value.toLowerCase();
  if (lower.includes('accept-encoding') || lower.includes('*')) return reply;
  return reply.header('vary', `${value}, accept-encoding`);
}

/** A playlist, compressed where the client takes it, with its cache lifetime. */
function sendPlaylist(reply: FastifyReply, text: string, cacheControl: string): FastifyReply {
  return varyOnEncoding(reply)
    .header('content-type', PLAYLIST_TYPE)
    .header('cache-control', cacheControl)
    .send(text);
}

/** HLS delivery: multivariant and media playlists, segments and init sections from memory. */
export const hlsRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (
  app,
  { hls, playback, sessions },
) => {
  // Playlists only (this plugin's scope, their content type): text that shrinks 3-5x. Segments
  // are compressed video already and are never touched (and ranges count unencoded bytes).
  await app.register(compress, {
    globalCompression: true,
    globalDecompression: false,
    encodings: ['gzip', 'br'],
    customTypes: (type: string) => type.startsWith(PLAYLIST_TYPE),
    threshold: PLAYLIST_COMPRESSION.thresholdBytes,
    brotliOptions: {
      params: {
        [zlib.BROTLI_PARAM_QUALITY]: PLAYLIST_COMPRESSION.brotliQuality,
        [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
      },
    },
  });

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

  /** What a playlist request reports (session, CMCD), once its playback token passed. */
  const playlistReport = async (
    recordingId: string,
    request: {
      query: Static<typeof MediaQuery>;
      headers: IncomingHttpHeaders;
      ip: string;
    },
  ): Promise<ClientReport> => {
    const report = clientReport(request.query, request.headers, request.ip);
    await checkPlayback(recordingId, request.query.token, report);
    return report;
  };

  app.get(
    '/live/:recording_id/master.m3u8',
    {
      schema: {
        summary: 'Multivariant playlist',
        tags: tagged('hls'),
        params: StreamParams,
        querystring: MasterQuery,
        response: { 200: text('the multivariant playlist', PLAYLIST_TYPE) },
      },
    },
    async (request, reply) => {
      const id = request.params.recording_id;
      const report = await playlistReport(id, request);
      const { text, sessionId } = await hls.multivariant(id, report, {
        probe: request.method === 'HEAD',
        token: playback ? request.query.token : undefined,
        steered: request.query.abr === 'server',
      });
      if (sessionId !== undefined) reply.header('x-vtp-session', sessionId);
      return sendPlaylist(reply, text, 'private, no-store');
    },
  );

  // A static segment: find-my-way matches it before the :profile parameter below.
  app.get(
    `/live/:recording_id/${STEERED_FOLDER}/index.m3u8`,
    {
      schema: {
        summary: "A steered viewer's media playlist (the server picks each segment's rendition)",
        tags: tagged('hls'),
        params: StreamParams,
        querystring: MediaQuery,
        response: { 200: text('the media playlist', PLAYLIST_TYPE) },
      },
    },
    async (request, reply) => {
      const id = request.params.recording_id;
      const report = await playlistReport(id, request);
      const text = hls.steeredPlaylist(id, report);
      const maxAge = playlistMaxAgeSec(hls.targetDurationSec(id));
      return sendPlaylist(reply, text, `private, max-age=${maxAge}`);
    },
  );

  app.get(
    '/live/:recording_id/:profile/index.m3u8',
    {
      schema: {
        summary: 'Media playlist of a rendition',
        tags: tagged('hls'),
        params: RenditionParams,
        querystring: MediaQuery,
        response: { 200: text('the media playlist', PLAYLIST_TYPE) },
      },
    },
    async (request, reply) => {
      const { recording_id: id, profile } = request.params;
      const report = await playlistReport(id, request);
      const text = hls.mediaPlaylist(id, profile, report);
      const maxAge = playlistMaxAgeSec(hls.targetDurationSec(id));
      const scope = report.sessionId ? 'private' : 'public';
      return sendPlaylist(reply, text, `${scope}, max-age=${maxAge}`);
    },
  );

  app.get(
    '/live/:recording_id/:profile/:file',
    {
      schema: {
        summary: 'Segment or init section',
        tags: tagged('hls'),
        params: ObjectParams,
        querystring: MediaQuery,
        response: {
          200: media('the segment or init section'),
          206: media('the requested byte range'),
          304: noBody('unchanged (If-None-Match)'),
        },
      },
      compress: false,
    },
    async (request, reply) => {
      const { recording_id: id, profile, file } = request.params;
      const object = hls.object(id, profile, file);
      if (!object) throw new SegmentNotFoundError(file, profile);
      const size = object.data.byteLength;
      reply.header('accept-ranges', 'bytes');
      // Published objects never change and their URLs name one stream incarnation: a CDN keeps
      // one copy for every viewer, and the ETag is the bytes' own.
      const cacheable = (r: FastifyReply) => {
        r.header('cache-control', IMMUTABLE_CACHE_CONTROL);
        return object.etag === undefined ? r : r.header('etag', object.etag);
      };
      if (
        object.etag !== undefined &&
        ifNoneMatchHits(request.headers['if-none-match'], object.etag)
      ) {
        return cacheable(reply).code(304).send();
      }
      let range: ByteRange | undefined;
      try {
        range = requestedRange(request.headers, size, object.etag);
      } catch (error) {
        if (error instanceof RangeNotSatisfiableError)
          reply.header('content-range', `bytes */${size}`);
        throw error;
      }
      cacheable(reply).header('content-type', object.contentType);
      const start = range?.start ?? 0;
      const end = range?.end ?? size - 1;
      if (range) reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);
      const body = Buffer.from(object.data.buffer, object.data.byteOffset + start, end - start + 1);
      if ('sequence' in object && request.method === 'GET') {
        const report = clientReport(request.query, request.headers, request.ip);
        hls.claimSeat(id, report);
        const started = performance.now();
        const segment: Segment = object;
        // A range that is not the whole segment counts its bytes, not a segment received.
        const whole = start === 0 && end === size - 1;
        reply.raw.once('finish', () => {
          try {
            hls.recordSegmentSent(
              id,
              segment,
              body.byteLength,
              performance.now() - started,
              report,
              whole,
            );
          } catch (error) {
            request.log.debug({ err: error }, 'segment sent after its stream was removed');
          }
        });
      }
      return reply.send(body);
    },
  );
};

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { ProfileName } from '../../core/profiles.js';
import { BodyTooLargeError, ingestKind } from '../../ingest/ingest-service.js';
import { bearerToken } from '../../service/secrets.js';
import type { RouteDeps } from '../app.js';
import { installIngestBody } from '../ingest-body.js';
import { PUBLISH_SECURITY, tagged } from '../operation-docs.js';
import { located, noBody, Pushed } from '../response-schemas.js';
import { envelope } from '../responses.js';
import { Id, Profile } from '../schemas.js';

const FileParams = Type.Object({ recording_id: Id, profile: Profile, file: Id });
const StreamFileParams = Type.Object({ recording_id: Id, file: Id });
const KeyQuery = Type.Object({ key: Type.Optional(Type.String({ maxLength: 256 })) });

function presentedKey(request: FastifyRequest): string | undefined {
  const query = request.query as { key?: string };
  if (query.key !== undefined) return query.key;
  return bearerToken(request.headers.authorization);
}

/** Where a pushed file lives: its PUT's path, without the query (which may hold the key). */
function ingestPath(id: string, profile: ProfileName | undefined, file: string): string {
  const parts = profile === undefined ? [id, file] : [id, profile, file];
  return `/ingest/${parts.map(encodeURIComponent).join('/')}`;
}

/**
 * Ingest for ffmpeg's hls muxer pushing over HTTP (-method PUT): segment files, media
 * playlists and fMP4 init sections under /ingest/{recording_id}/{profile}/.
 */
export const ingestRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { ingest }) => {
  // Encoders send media with any content type (or none); this scope streams raw bytes only,
  // bounded by what the URL says the file is, by the ingest budget and by a minimum pace.
  installIngestBody(app, {
    limitFor: (request) => {
      const { profile, file } = request.params as { profile?: ProfileName; file?: string };
      const kind = ingestKind(file ?? '', profile);
      const bytes = ingest.maxBytesFor(kind);
      return { bytes, error: () => new BodyTooLargeError(kind, bytes) };
    },
    reserve: (request, declared, cap) =>
      ingest.budget.reserve(
        (request.params as { recording_id: string }).recording_id,
        declared,
        cap,
      ),
    minBytesPerSec: ingest.limits.minUploadBytesPerSec,
    graceMs: ingest.limits.uploadGraceMs,
  });
  // The key is checked before a byte of the body is read.
  const authorize = async (request: FastifyRequest) => {
    // A restored stream's first push is checked against its stored hash: asynchronous.
    await ingest.access.authorize(
      (request.params as { recording_id: string }).recording_id,
      presentedKey(request),
    );
  };

  // Answered once what the push published is stored, when there is a data directory.
  const accept = async (
    id: string,
    profile: ProfileName | undefined,
    file: string,
    body: unknown,
  ) => {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
    const published = await ingest.put(id, profile, file, bytes);
    return envelope({ recording_id: id, profile: profile ?? null, file, published }, 'Accepted');
  };

  const pushed = { 201: located(Pushed, 'the pushed file') };
  app.put(
    '/ingest/:recording_id/:profile/:file',
    {
      schema: {
        summary: "Push a rendition's segment, init section or media playlist",
        tags: tagged('ingest'),
        security: PUBLISH_SECURITY,
        params: FileParams,
        querystring: KeyQuery,
        response: pushed,
      },
      onRequest: authorize,
    },
    async (request, reply) => {
      const { recording_id: id, profile, file } = request.params;
      const answer = await accept(id, profile, file, request.body);
      return reply
        .code(201)
        .header('location', ingestPath(id, profile, file))
        .send(answer);
    },
  );

  app.put(
    '/ingest/:recording_id/:file',
    {
      schema: {
        summary: 'Push a file of the whole stream (multivariant playlist)',
        tags: tagged('ingest'),
        security: PUBLISH_SECURITY,
        params: StreamFileParams,
        querystring: KeyQuery,
        response: pushed,
      },
      onRequest: authorize,
    },
    async (request, reply) => {
      const { recording_id: id, file } = request.params;
      const answer = await accept(id, undefined, file, request.body);
      return reply
        .code(201)
        .header('location', ingestPath(id, undefined, file))
        .send(answer);
    },
  );

  app.delete(
    '/ingest/:recording_id/:profile/:file',
    {
      schema: {
        summary: 'Delete a pushed file (ffmpeg deletes old segments)',
        tags: tagged('ingest'),
        security: PUBLISH_SECURITY,
        params: FileParams,
        querystring: KeyQuery,
        response: { 204: noBody('deleted') },
      },
      onRequest: authorize,
    },
    async (request, reply) => {
      const { recording_id: id, profile, file } = request.params;
      ingest.delete(id, profile, file);
      return reply.code(204).send();
    },
  );
};

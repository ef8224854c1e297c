import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import { Type } from 'typebox';
import { ERROR_CODES } from './error-codes.js';

/** Where the document and its reading page are served. */
export const OPENAPI_PATH = '/api/v1/openapi.json';
export const DOCS_PREFIX = '/api/docs';

/** The JSON error body every failure shares (src/http/error-mapping.ts), a component by name. */
const ErrorEnvelope = Type.Object(
  {
    error: Type.Object({
      code: Type.Enum(Object.keys(ERROR_CODES)),
      message: Type.String(),
      field: Type.Optional(Type.String({ description: 'the request field the error is about' })),
    }),
    message: Type.String(),
    timestamp: Type.String({ format: 'date-time' }),
  },
  { $id: 'ErrorEnvelope' },
);

/** What every JSON success carries besides its own fields. */
const Envelope = Type.Object(
  { message: Type.String(), timestamp: Type.String({ format: 'date-time' }) },
  { additionalProperties: true },
);

interface Operation {
  readonly summary: string;
  /** Status of success (default 200). */
  readonly status?: number;
  /** What the `Location` of a 201/202 names. */
  readonly location?: string;
  /** Other successes (a long poll's 204). */
  readonly also?: Readonly<Record<number, string>>;
}

/** A line on each route; a route missing here is still described, by its path and method. */
const OPERATIONS: Readonly<Record<string, Operation>> = {
  'POST /api/v1/streams/start': {
    summary: 'Start a live stream',
    status: 201,
    location: 'the stream',
  },
  'GET /api/v1/streams': { summary: 'Every stream, summarised' },
  'POST /api/v1/streams/:recording_id': {
    summary: 'Join a viewer to a stream',
    status: 201,
    location: "the viewer's row",
  },
  'GET /api/v1/streams/:recording_id': {
    summary: 'Statistics of a stream, with a page of viewer rows',
  },
  'DELETE /api/v1/streams/:recording_id': { summary: 'A viewer leaves' },
  'POST /api/v1/streams/:recording_id/end': { summary: 'End a stream' },
  'GET /api/v1/streams/:recording_id/viewers/:viewer_id': { summary: "One viewer's row" },
  'GET /api/v1/streams/:recording_id/viewers/:viewer_id/next': {
    summary: "The viewer's next segment (long poll)",
    also: { 204: 'no segment within wait_ms (X-Stream-Status: live or ended)' },
  },
  'POST /api/v1/segments/deliver': {
    summary: 'Queue delivery of a segment to a viewer',
    status: 202,
    location: 'the delivery',
  },
  'GET /api/v1/segments/deliveries/:delivery_id': { summary: 'Outcome of a delivery' },
  'POST /api/v1/viewers/adapt-quality': { summary: 'Report buffer health; adapt the bitrate' },
  'GET /api/v1/distribution/metrics': { summary: 'System metrics' },
  'GET /api/v1/distribution/health': { summary: 'Health (503 while shutting down)' },
  'PUT /api/v1/distribution/cdn': { summary: 'Deliver through a push CDN, or stop' },
  'POST /api/v1/transcode/start': {
    summary: 'Start a built-in ladder encoder',
    status: 201,
    location: "the encoder's status",
  },
  'GET /api/v1/transcode': { summary: 'Every built-in encoder' },
  'GET /api/v1/transcode/:job_id': { summary: "An encoder's status" },
  'POST /api/v1/transcode/:job_id/stop': { summary: 'Stop an encoder' },
  'GET /api/v1/openapi.json': { summary: 'This document' },
  'PUT /ingest/:recording_id/:profile/:file': {
    summary: "Push a rendition's segment, init section or media playlist",
    status: 201,
    location: 'the pushed file',
  },
  'PUT /ingest/:recording_id/:file': {
    summary: 'Push a file of the whole stream (multivariant playlist)',
    status: 201,
    location: 'the pushed file',
  },
  'DELETE /ingest/:recording_id/:profile/:file': {
    summary: 'Delete a pushed file (ffmpeg deletes old segments)',
    status: 204,
  },
  'GET /live/:recording_id/master.m3u8': { summary: 'Multivariant playlist' },
  'GET /live/:recording_id/:profile/index.m3u8': { summary: 'Media playlist of a rendition' },
  'GET /live/:recording_id/:profile/:file': { summary: 'Segment or init section' },
  'GET /metrics': { summary: 'Metrics in the Prometheus text format' },
  'GET /watch/:recording_id': { summary: 'Player page' },
  'GET /dashboard': { summary: 'Dashboard page' },
  'GET /': { summary: 'Redirect to the dashboard', status: 302 },
  'GET /assets/:name': { summary: 'Script or style sheet of the pages' },
};

const binary = { type: 'string', format: 'binary' } as const;

/** Media types of a success on `url`: JSON for the API, what is served elsewhere. */
function contentOf(url: string): Record<string, { schema: object }> {
  if (url.endsWith('.m3u8')) return { 'application/vnd.apple.mpegurl': { schema: Type.String() } };
  if (url.startsWith('/live/') || url.endsWith('/next')) {
    return { 'video/mp2t': { schema: binary }, 'video/mp4': { schema: binary } };
  }
  if (url === '/metrics') return { 'text/plain': { schema: Type.String() } };
  if (url === '/watch/:recording_id' || url === '/dashboard' || url === '/') {
    return { 'text/html': { schema: Type.String() } };
  }
  if (url.startsWith('/assets/')) {
    return { 'text/javascript': { schema: Type.String() }, 'text/css': { schema: Type.String() } };
  }
  return { 'application/json': { schema: Envelope } };
}

/** The tag an operation is listed under: its resource in the API, its area elsewhere. */
function tagOf(url: string): string {
  const api = /^\/api\/v1\/([^/]+)/.exec(url);
  if (api) return api[1] === 'openapi.json' ? 'api' : (api[1] as string);
  if (url.startsWith('/live/')) return 'hls';
  if (url.startsWith('/ingest/')) return 'ingest';
  if (url === '/metrics') return 'metrics';
  return 'pages';
}

function responsesOf(method: string, url: string, operation: Operation | undefined) {
  const status = operation?.status ?? 200;
  const success =
    status === 204
      ? { description: 'done', type: 'null' }
      : status === 302
        ? { description: 'redirect', type: 'null', headers: { location: Type.String() } }
        : {
            description: operation?.summary ?? `${method} ${url}`,
            content: contentOf(url),
            ...(operation?.location && {
              headers: {
                location: Type.String({ description: `path of ${operation.location}` }),
              },
            }),
          };
  const also = Object.fromEntries(
    Object.entries(operation?.also ?? {}).map(([code, description]) => [
      code,
      { description, type: 'null' },
    ]),
  );
  const failure = (description: string) => ({
    description,
    content: { 'application/json': { schema: { $ref: 'ErrorEnvelope#' } } },
  });
  return {
    [status]: success,
    ...also,
    '4XX': failure('refused: the error code says why (README: Error codes)'),
    '5XX': failure(
      'overloaded, draining, or a fault of the server (with Retry-After when worth it)',
    ),
  };
}

export interface OpenApiOptions {
  /** Whether a route needs the admin token (its operation names the bearer scheme). */
  readonly isAdmin: (route: RouteOptions) => boolean;
}

/**
 * The OpenAPI 3 document (@fastify/swagger), generated from the routes' TypeBox schemas and
 * completed here with a summary, the success and the error envelope of each operation, and the
 * admin token's scheme; served at /api/v1/openapi.json, and read at /api/docs
 * (@fastify/swagger-ui, its assets from its own package: nothing loads from elsewhere).
 */
export function installOpenApi(app: FastifyInstance, options: OpenApiOptions): void {
  app.addSchema(ErrorEnvelope);
  app.register(swagger, {
    // Shared schemas become components named by their $id.
    refResolver: {
      buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`),
    },
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'VTP Live',
        description:
          'Live HLS distribution for lectures: the control API, ingest, HLS delivery and pages. Every error is `{error: {code, message, field?}, message, timestamp}`; the README lists the codes.',
        version: '1',
      },
      components: {
        securitySchemes: {
          adminToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'the admin token (--admin-token); open on a loopback server without one',
          },
        },
      },
    },
    transform: ({ schema, url, route }) => {
      const method = [route.method].flat()[0] as string;
      const operation = OPERATIONS[`${method} ${url}`];
      const described: FastifySchema & Record<string, unknown> = {
        ...schema,
        tags: [tagOf(url)],
        operationId: operationId(method, url),
        ...(operation && { summary: operation.summary }),
        ...(options.isAdmin(route) && { security: [{ adminToken: [] }] }),
        response: responsesOf(method, url, operation),
      };
      return { schema: described, url };
    },
  });
  app.register(async (scope) => {
    scope.get(OPENAPI_PATH, async () => scope.swagger());
  });
  app.register(swaggerUi, { routePrefix: DOCS_PREFIX, uiConfig: { docExpansion: 'list' } });
}

/** A stable, unique name per operation: its method and path in words. */
function operationId(method: string, url: string): string {
  const words = url
    .split('/')
    .filter((part) => part !== '' && part !== 'api' && part !== 'v1')
    .map((part) => part.replace(/^:/, 'by_').replace(/[^A-Za-z0-9_]/g, '_'));
  return [method.toLowerCase(), ...words].join('_');
}

import cors, { type FastifyCorsOptions } from '@fastify/cors';
import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
} from 'fastify';

/** Origins a setting allows: any (`*`), a list, or none (CORS off). */
export type AllowedOrigins = '*' | readonly string[] | false;

export interface ParseOriginsOptions {
  /**
   * Whether `*` (any origin) may be allowed. Not for the control API: on a loopback server
   * without an admin token, any page the operator visits could then drive it.
   */
  readonly allowAny?: boolean;
}

/**
 * Reads a comma-separated origin list (`*`, or `scheme://host[:port]` each); empty or `none`
 * means off.
 * Throws naming the first entry that is not an origin, or `*` where it is not allowed.
 */
export function parseOrigins(value: string, options: ParseOriginsOptions = {}): AllowedOrigins {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0 || (entries.length === 1 && entries[0] === 'none')) return false;
  if (entries.includes('*')) {
    if (options.allowAny ?? true) return '*';
    throw new Error(
      "'*' is not allowed for the control API: list the origins (scheme://host[:port]) whose pages may call it; with '*' any web page the operator visits could drive the admin API",
    );
  }
  for (const entry of entries) {
    let origin: string | undefined;
    try {
      origin = new URL(entry).origin;
    } catch {
      origin = undefined;
    }
    // A browser sends the serialized origin: no path, no trailing slash, default port dropped.
    if (origin !== entry || !/^https?:\/\//.test(entry)) {
      throw new Error(`'${entry}' is not an origin (scheme://host[:port], or *)`);
    }
  }
  return entries;
}

/** What one CORS scope allows and shows, its header lists joined once at start-up. */
interface CorsShape {
  readonly methods: string;
  readonly allowedHeaders: string;
  readonly exposedHeaders: string;
}

/**
 * HLS reads (playlists, segments, init sections): GET and HEAD from the allowed origins, with
 * the request headers players send (CMCD as headers, Range) and the response headers they read.
 */
const HLS_CORS: CorsShape = {
  methods: 'GET, HEAD',
  allowedHeaders: 'CMCD-Request, CMCD-Object, CMCD-Status, CMCD-Session, Range',
  // X-Cache-Status is the edge tier's (README "Edge tier"): an edge passes these headers on.
  exposedHeaders:
    'Content-Length, Content-Range, Accept-Ranges, ETag, Age, Retry-After, X-VTP-Session, X-Cache-Status',
};

/** The control API: every method it has, a bearer token and a JSON body. */
const API_CORS: CorsShape = {
  methods: 'GET, HEAD, POST, PUT, DELETE',
  allowedHeaders: 'Authorization, Content-Type',
  exposedHeaders: [
    'Location',
    'Retry-After',
    'WWW-Authenticate',
    'X-Segment-Id',
    'X-Segment-Sequence',
    'X-Segment-Profile',
    'X-Segment-Duration',
    'X-Stream-Status',
    'X-RateLimit-Limit',
    'X-RateLimit-Remaining',
    'X-RateLimit-Reset',
  ].join(', '),
};

/** Browsers cache a preflight this long (Chromium caps it at 2 h). */
const PREFLIGHT_MAX_AGE_SEC = 7200;

export interface CorsSettings {
  /** Who may read HLS (/live/...). */
  readonly hls: AllowedOrigins;
  /** Who may call the control API (/api/...): never `*`. */
  readonly api: Exclude<AllowedOrigins, '*'>;
}

type Scope = 'hls' | 'api';

/** The CORS scope a path belongs to; ingest, metrics and pages belong to none. */
function scopeOf(url: string): Scope | undefined {
  // Recordings play as players play live streams (README "Recordings").
  if (url.startsWith('/live/') || url.startsWith('/vod/')) return 'hls';
  if (url.startsWith('/api/')) return 'api';
  return undefined;
}

const SHAPES: Readonly<Record<Scope, CorsShape>> = { hls: HLS_CORS, api: API_CORS };

/** @fastify/cors options of a scope with an origin list. */
function listedCors(origins: readonly string[], shape: CorsShape) {
  return {
    origin: [...origins],
    methods: shape.methods,
    allowedHeaders: shape.allowedHeaders,
    exposedHeaders: shape.exposedHeaders,
    maxAge: PREFLIGHT_MAX_AGE_SEC,
    // A bare OPTIONS (no Origin) is answered too, not refused in text/plain.
    strictPreflight: false,
  } satisfies FastifyCorsOptions;
}

/**
 * The headers of a scope that any origin may read, built once: the same two on every response,
 * so no `Vary: Origin` and a CDN keeps one copy per object.
 */
function anyOriginHeaders(shape: CorsShape) {
  const response = {
    'access-control-allow-origin': '*',
    'access-control-expose-headers': shape.exposedHeaders,
  };
  const preflight = {
    ...response,
    'access-control-allow-methods': shape.methods,
    'access-control-allow-headers': shape.allowedHeaders,
    'access-control-max-age': String(PREFLIGHT_MAX_AGE_SEC),
    'content-length': '0',
  };
  return { response, preflight };
}

/**
 * CORS by path. HLS open to any origin (the default) costs two prepared headers in an onRequest
 * hook that only the /live/ routes carry (an onRoute hook adds it), and a preflight route that
 * answers with prepared headers. A scope with an origin list (HLS narrowed, or the control API
 * switched on) goes through @fastify/cors, which is registered only then: every route outside
 * such a scope carries `cors: false` in its config, so the plugin's hook returns at once there.
 */
export function installCors(app: FastifyInstance, settings: CorsSettings): void {
  const listed = Object.fromEntries(
    (['hls', 'api'] as const)
      .filter((scope) => Array.isArray(settings[scope]))
      .map((scope) => [scope, listedCors(settings[scope] as string[], SHAPES[scope])]),
  ) as Partial<Record<Scope, ReturnType<typeof listedCors>>>;
  const usesPlugin = Object.keys(listed).length > 0;
  const hlsAny = settings.hls === '*' ? anyOriginHeaders(HLS_CORS) : undefined;
  const addAnyOrigin: onRequestHookHandler = (_request, reply, done) => {
    reply.headers((hlsAny as ReturnType<typeof anyOriginHeaders>).response);
    done();
  };

  app.addHook('onRoute', (route) => {
    const scope = scopeOf(route.url);
    if (scope === 'hls' && hlsAny) {
      route.onRequest = [addAnyOrigin, ...[route.onRequest ?? []].flat()];
    }
    if (!usesPlugin) return;
    const options = scope && listed[scope];
    route.config = { ...route.config, cors: options ?? false } as typeof route.config;
  });
  if (usesPlugin) app.register(cors, { origin: false, hideOptionsRoute: true });
  const preflights: FastifyPluginAsync = async (scope) => {
    // @fastify/cors answers a listed scope's preflight in its onRequest hook; these routes give
    // it a path to run on. An open HLS preflight is answered here, with its prepared headers.
    for (const prefix of ['/live/*', '/vod/*']) {
      if (hlsAny) {
        scope.options(prefix, { schema: { hide: true } }, async (_request, reply) =>
          reply.code(204).headers(hlsAny.preflight).send(),
        );
      } else if (settings.hls) scope.options(prefix, { schema: { hide: true } }, noContent);
    }
    if (settings.api) scope.options('/api/*', { schema: { hide: true } }, noContent);
  };
  app.register(preflights);
}

/**
 * CORS headers for a request no route took (a 404 or 405 under /live/ or /api/), so a page can
 * read why. @fastify/cors cannot tell a scope there (the not-found handler has no route config),
 * hence these few lines of the same rules.
 */
export function corsForUnmatched(
  settings: CorsSettings,
): (request: FastifyRequest, reply: FastifyReply) => void {
  const hlsAny = settings.hls === '*' ? anyOriginHeaders(HLS_CORS).response : undefined;
  const lists: Partial<Record<Scope, ReadonlySet<string>>> = {};
  for (const scope of ['hls', 'api'] as const) {
    const origins = settings[scope];
    if (Array.isArray(origins)) lists[scope] = new Set(origins);
  }
  return (request, reply) => {
    const scope = scopeOf(request.url);
    if (scope === undefined) return;
    if (scope === 'hls' && hlsAny) {
      reply.headers(hlsAny);
      return;
    }
    const allowed = lists[scope];
    if (!allowed) return;
    reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    if (origin === undefined || !allowed.has(origin)) return;
    reply.header('access-control-allow-origin', origin);
    reply.header('access-control-expose-headers', SHAPES[scope].exposedHeaders);
  };
}

/** Whether CORS (and so OPTIONS) applies to a URL. */
export function corsApplies(settings: CorsSettings, url: string): boolean {
  const scope = scopeOf(url);
  return scope !== undefined && settings[scope] !== false;
}

/** Reached only when the plugin passes a preflight on (it answers them itself). */
async function noContent(_request: unknown, reply: FastifyReply) {
  return reply.code(204).send();
}

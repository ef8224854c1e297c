import cors, { type FastifyCorsOptions } from '@fastify/cors';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';

/** Origins a setting allows: any (`*`), a list, or none (CORS off). */
export type AllowedOrigins = '*' | readonly string[] | false;

/**
 * Reads a comma-separated origin list (`*`, or `scheme://host[:port]` each); empty or `none`
 * means off.
 * Throws naming the first entry that is not an origin.
 */
export function parseOrigins(value: string): AllowedOrigins {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0 || (entries.length === 1 && entries[0] === 'none')) return false;
  if (entries.includes('*')) return '*';
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

/**
 * HLS reads (playlists, segments, init sections): GET and HEAD from the allowed origins, with
 * the request headers players send (CMCD as headers, Range) and the response headers they read.
 */
const HLS_CORS = {
  methods: ['GET', 'HEAD'],
  allowedHeaders: ['CMCD-Request', 'CMCD-Object', 'CMCD-Status', 'CMCD-Session', 'Range'],
  exposedHeaders: [
    'Content-Length',
    'Content-Range',
    'Accept-Ranges',
    'ETag',
    'Age',
    'Retry-After',
    'X-VTP-Session',
  ],
} as const;

/** The control API: every method it has, a bearer token and a JSON body. */
const API_CORS = {
  methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
  allowedHeaders: ['Authorization', 'Content-Type'],
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
  ],
} as const;

export interface CorsSettings {
  /** Who may read HLS (/live/...). */
  readonly hls: AllowedOrigins;
  /** Who may call the control API (/api/...). */
  readonly api: AllowedOrigins;
}

/** The CORS scope a path belongs to; ingest, metrics and pages belong to none. */
function scopeOf(url: string): 'hls' | 'api' | undefined {
  if (url.startsWith('/live/')) return 'hls';
  if (url.startsWith('/api/')) return 'api';
  return undefined;
}

function routeCors(origins: Exclude<AllowedOrigins, false>, scope: 'hls' | 'api') {
  const shape = scope === 'hls' ? HLS_CORS : API_CORS;
  return {
    origin: origins === '*' ? '*' : [...origins],
    methods: [...shape.methods],
    allowedHeaders: [...shape.allowedHeaders],
    exposedHeaders: [...shape.exposedHeaders],
    // Browsers cache a preflight this long (Chromium caps it at 2 h).
    maxAge: 7200,
    // A bare OPTIONS (no Origin) is answered too, not refused in text/plain.
    strictPreflight: false,
  } satisfies FastifyCorsOptions;
}

/**
 * CORS by path (@fastify/cors): off everywhere, then switched on per route for HLS and the
 * control API as configured. Each route carries its own options (an onRoute hook puts them in
 * its config), so an allowed `*` sends no `Vary: Origin` and CDNs keep one copy per object;
 * a preflight route per scope answers OPTIONS.
 */
export function installCors(app: FastifyInstance, settings: CorsSettings): void {
  app.addHook('onRoute', (route) => {
    const scope = scopeOf(route.url);
    const origins = scope && settings[scope];
    if (!scope || !origins) return;
    route.config = { ...route.config, cors: routeCors(origins, scope) } as typeof route.config;
  });
  app.register(cors, { origin: false, hideOptionsRoute: true });
  const preflights: FastifyPluginAsync = async (scope) => {
    // The plugin answers a preflight in its onRequest hook; these routes give it a path to run on.
    if (settings.hls) scope.options('/live/*', { schema: { hide: true } }, noContent);
    if (settings.api) scope.options('/api/*', { schema: { hide: true } }, noContent);
  };
  app.register(preflights);
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

import rateLimit from '@fastify/rate-limit';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import { DistributionError } from '../core/errors.js';
import type { EdgeReportSource } from '../edge/edge-metrics.js';
import type { EncoderManager } from '../ingest/encoder-manager.js';
import type { IngestService } from '../ingest/ingest-service.js';
import type { PublishingControl } from '../ingest/publish-ingest.js';
import type { CdnPushStatusSource } from '../service/cdn-push-metrics.js';
import type { DistributionService } from '../service/distribution-service.js';
import type { HlsDelivery } from '../service/hls-delivery.js';
import type { PlaybackTokens } from '../service/playback-tokens.js';
import type { Recordings } from '../service/recordings.js';
import type { AttendanceSource } from '../storage/state-recorder.js';
import { adminGuard } from './admin-auth.js';
import {
  type AllowedOrigins,
  corsApplies,
  corsForUnmatched,
  installCors,
  parseOrigins,
} from './cors.js';
import { clientErrorHandler, frameworkErrors, installErrorHandling } from './error-mapping.js';
import { HTTP_DEFAULTS } from './http-defaults.js';
import { installNotFoundHandler, trackRouteMethods } from './method-not-allowed.js';
import { installOpenApi } from './openapi.js';
import { installRequestGuards } from './request-guards.js';
import { RequestLog } from './request-log.js';
import { distributionRoutes } from './routes/distribution.js';
import { hlsRoutes } from './routes/hls.js';
import { ingestRoutes } from './routes/ingest.js';
import { probeRoutes } from './routes/probes.js';
import { installMetrics } from './routes/prometheus.js';
import { publishingRoutes } from './routes/publishing.js';
import { recordingRoutes } from './routes/recordings.js';
import { reportRoutes } from './routes/report.js';
import { segmentRoutes } from './routes/segments.js';
import { streamRoutes } from './routes/streams.js';
import { transcodeRoutes } from './routes/transcode.js';
import { viewerRoutes } from './routes/viewers.js';
import { vodRoutes } from './routes/vod.js';
import { webRoutes } from './routes/web.js';
import { MAX_ID_LENGTH } from './schemas.js';
import { type SessionLookup, ViewerAccess } from './viewer-access.js';

export interface AppOptions {
  readonly service: DistributionService;
  readonly ingest: IngestService;
  readonly hls: HlsDelivery;
  readonly encoders: EncoderManager;
  /** The edge tier's reports (--edge-reports): their vtp_edge_* series on /metrics. */
  readonly edgeReports?: EdgeReportSource | undefined;
  /** A pino logger, or false for none (tests). */
  readonly logger?: FastifyBaseLogger | false;
  /** Default and largest long-poll wait of GET .../next. */
  readonly longPollMs?: number;
  readonly maxLongPollMs?: number;
  /** Bearer token that operations changing the server need; none on a loopback-only server. */
  readonly adminToken?: string | undefined;
  /** Largest JSON body the control API accepts. */
  readonly bodyLimitBytes?: number;
  /** Signed playback tokens the HLS playlists require; none means playback is open. */
  readonly playback?: PlaybackTokens | undefined;
  /** Requests per minute one client may make to the control API, and joins among them; 0 = no limit. */
  readonly apiRateLimit?: number;
  readonly joinRateLimit?: number;
  /** Take the client address from X-Forwarded-For (true for any proxy, or the proxies' addresses/CIDRs, comma-separated). */
  readonly trustProxy?: boolean | string;
  /** A request (headers and body) must have arrived within this long; its headers within the other. */
  readonly requestTimeoutMs?: number;
  readonly headersTimeoutMs?: number;
  /** Origins that may read HLS, comma-separated: `*` (any), a list, or empty (no CORS). */
  readonly corsOrigins?: string;
  /** Origins that may call the control API, comma-separated; empty (the default) = no CORS. */
  readonly apiCorsOrigins?: string;
  /** Recordings on disk (with a data directory); without, none are listed or played. */
  readonly recordings?: Recordings | undefined;
  /** Stored streams and sessions for attendance reports; without, every report is a 404. */
  readonly attendance?: AttendanceSource | undefined;
  /** Push delivery's per-target figures (with --cdn-push-targets): `cdn_push` in the metrics. */
  readonly cdnPush?: CdnPushStatusSource | undefined;
  /** Publishing from OBS with stream keys (RTMP, SRT); without, stream keys are refused. */
  readonly publishing?: PublishingControl | undefined;
}

export { HTTP_DEFAULTS };

export type App = FastifyInstance;

class RateLimitError extends DistributionError {
  constructor(message: string) {
    super('RATE_LIMITED', message);
  }
}

/** Builds the Fastify app with every route; listening is the caller's business. */
export function buildApp(options: AppOptions): App {
  const requestTimeout = options.requestTimeoutMs ?? HTTP_DEFAULTS.requestTimeoutMs;
  // Longer than any id, so an overlong id gets a 400 naming its field rather than a bare 414.
  const routerOptions = { ignoreTrailingSlash: true, maxParamLength: 4 * MAX_ID_LENGTH };
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    // One debug line per request instead of two at info (request-log.ts).
    logController: new RequestLog(),
    bodyLimit: options.bodyLimitBytes ?? HTTP_DEFAULTS.bodyLimitBytes,
    // Wrong types are errors, not something to coerce: "50" is not a buffer health. Unknown
    // fields are errors too, not something to drop: {"maxViewers": 5} is a typo to report.
    ajv: {
      customOptions: {
        coerceTypes: false,
        allErrors: false,
        removeAdditional: false,
        discriminator: true,
      },
    },
    routerOptions,
    // Requests during close get SHUTTING_DOWN in the JSON error body (request-guards.ts).
    return503OnClosing: false,
    trustProxy: options.trustProxy ?? false,
    frameworkErrors,
    clientErrorHandler,
    requestTimeout,
    http: {
      headersTimeout: Math.min(
        options.headersTimeoutMs ?? HTTP_DEFAULTS.headersTimeoutMs,
        requestTimeout,
      ),
      // Node checks the timeouts above every 30 s by default: far too coarse to cut a slow client.
      connectionsCheckingInterval: 1000,
      // Node answers a missing Host with an empty 400; request-guards.ts answers it in JSON.
      requireHostHeader: false,
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  const cors = {
    hls: parseOrigins(options.corsOrigins ?? HTTP_DEFAULTS.corsOrigins),
    // Explicit origins only: `*` would let any page drive the admin API (cors.ts).
    api: parseOrigins(options.apiCorsOrigins ?? HTTP_DEFAULTS.apiCorsOrigins, {
      allowAny: false,
    }) as Exclude<AllowedOrigins, '*'>,
  };
  const routeMethods = trackRouteMethods(app, routerOptions);
  installErrorHandling(app);
  installNotFoundHandler(app, {
    allowedMethods: (url) => {
      const methods = routeMethods.allowed(url);
      return methods.length > 0 && corsApplies(cors, url) ? [...methods, 'OPTIONS'] : methods;
    },
    beforeAnswer: corsForUnmatched(cors),
  });
  installRequestGuards(app);
  const admin = adminGuard(options.adminToken);
  installOpenApi(app, { isAdmin: (route) => [route.onRequest].flat().includes(admin) });
  // Before the rate limit: a preflight is answered without counting against the client.
  installCors(app, cors);
  const access = new ViewerAccess(options.adminToken, options.service);
  const apiRateLimit = options.apiRateLimit ?? HTTP_DEFAULTS.apiRateLimit;
  const joinRateLimit = options.joinRateLimit ?? HTTP_DEFAULTS.joinRateLimit;
  app.register(rateLimit, {
    global: apiRateLimit > 0,
    max: apiRateLimit,
    timeWindow: 60_000,
    // The control API only; the operator (admin token) is never limited.
    allowList: (request) => !request.url.startsWith('/api/') || access.presentsAdminToken(request),
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new RateLimitError(`too many requests from this client; retry in ${context.after}`),
        { statusCode: context.statusCode },
      ),
  });
  // The control API speaks JSON only; anything else is a 415, not a string to validate.
  app.removeContentTypeParser('text/plain');
  const deps: RouteDeps = {
    service: options.service,
    ingest: options.ingest,
    hls: options.hls,
    encoders: options.encoders,
    edgeReports: options.edgeReports,
    recordings: options.recordings,
    attendance: options.attendance,
    cdnPush: options.cdnPush,
    publishing: options.publishing,
    admin,
    access,
    sessions: options.service,
    playback: options.playback,
    joinRateLimit:
      joinRateLimit > 0 ? { max: joinRateLimit, timeWindow: 60_000 } : (false as const),
    longPollMs: options.longPollMs ?? HTTP_DEFAULTS.longPollMs,
    maxLongPollMs: options.maxLongPollMs ?? HTTP_DEFAULTS.maxLongPollMs,
  };
  app.register(streamRoutes, deps);
  app.register(publishingRoutes, deps);
  app.register(segmentRoutes, deps);
  app.register(viewerRoutes, deps);
  app.register(distributionRoutes, deps);
  app.register(ingestRoutes, deps);
  app.register(hlsRoutes, deps);
  app.register(transcodeRoutes, deps);
  app.register(vodRoutes, deps);
  app.register(recordingRoutes, deps);
  app.register(reportRoutes, deps);
  installMetrics(app, deps);
  app.register(probeRoutes, deps);
  app.register(webRoutes);
  return app;
}

export interface RouteDeps {
  readonly service: DistributionService;
  readonly ingest: IngestService;
  readonly hls: HlsDelivery;
  readonly encoders: EncoderManager;
  readonly edgeReports: EdgeReportSource | undefined;
  readonly recordings: Recordings | undefined;
  readonly attendance: AttendanceSource | undefined;
  readonly cdnPush: CdnPushStatusSource | undefined;
  readonly publishing: PublishingControl | undefined;
  /** onRequest hook of the operations that need the admin token. */
  readonly admin: (request: FastifyRequest) => Promise<void>;
  /** Who may see and act for which viewer. */
  readonly access: ViewerAccess;
  readonly sessions: SessionLookup;
  readonly playback: PlaybackTokens | undefined;
  /** Route rate-limit of joins (per client per minute), or false for none. */
  readonly joinRateLimit: { max: number; timeWindow: number } | false;
  readonly longPollMs: number;
  readonly maxLongPollMs: number;
}

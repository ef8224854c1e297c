import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import type { EncoderManager } from '../ingest/encoder-manager.js';
import { INGEST_DEFAULTS, type IngestService } from '../ingest/ingest-service.js';
import type { DistributionService } from '../service/distribution-service.js';
import type { HlsDelivery } from '../service/hls-delivery.js';
import { adminGuard } from './admin-auth.js';
import { installErrorHandling } from './error-mapping.js';
import { distributionRoutes } from './routes/distribution.js';
import { hlsRoutes } from './routes/hls.js';
import { ingestRoutes } from './routes/ingest.js';
import { prometheusRoutes } from './routes/prometheus.js';
import { segmentRoutes } from './routes/segments.js';
import { streamRoutes } from './routes/streams.js';
import { transcodeRoutes } from './routes/transcode.js';
import { viewerRoutes } from './routes/viewers.js';
import { webRoutes } from './routes/web.js';

export interface AppOptions {
  readonly service: DistributionService;
  readonly ingest: IngestService;
  readonly hls: HlsDelivery;
  readonly encoders: EncoderManager;
  /** Largest segment an encoder may push. */
  readonly maxSegmentBytes?: number;
  /** A pino logger, or false for none (tests). */
  readonly logger?: FastifyBaseLogger | false;
  /** Default and largest long-poll wait of GET .../next. */
  readonly longPollMs?: number;
  readonly maxLongPollMs?: number;
  /** Bearer token that operations changing the server need; none on a loopback-only server. */
  readonly adminToken?: string | undefined;
  /** Largest JSON body the control API accepts. */
  readonly bodyLimitBytes?: number;
}

export const HTTP_DEFAULTS = {
  longPollMs: 2000,
  maxLongPollMs: 30_000,
  bodyLimitBytes: 64 * 1024,
} as const;

export type App = FastifyInstance;

/** Builds the Fastify app with every route; listening is the caller's business. */
export function buildApp(options: AppOptions): App {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: options.bodyLimitBytes ?? HTTP_DEFAULTS.bodyLimitBytes,
    // Wrong types are errors, not something to coerce: "50" is not a buffer health.
    ajv: { customOptions: { coerceTypes: false, allErrors: false } },
    routerOptions: { ignoreTrailingSlash: true },
  }).withTypeProvider<TypeBoxTypeProvider>();
  installErrorHandling(app);
  // The control API speaks JSON only; anything else is a 415, not a string to validate.
  app.removeContentTypeParser('text/plain');
  const deps: RouteDeps = {
    service: options.service,
    ingest: options.ingest,
    hls: options.hls,
    encoders: options.encoders,
    maxSegmentBytes: options.maxSegmentBytes ?? INGEST_DEFAULTS.maxSegmentBytes,
    admin: adminGuard(options.adminToken),
    longPollMs: options.longPollMs ?? HTTP_DEFAULTS.longPollMs,
    maxLongPollMs: options.maxLongPollMs ?? HTTP_DEFAULTS.maxLongPollMs,
  };
  app.register(streamRoutes, deps);
  app.register(segmentRoutes, deps);
  app.register(viewerRoutes, deps);
  app.register(distributionRoutes, deps);
  app.register(ingestRoutes, deps);
  app.register(hlsRoutes, deps);
  app.register(transcodeRoutes, deps);
  app.register(prometheusRoutes, deps);
  app.register(webRoutes);
  return app;
}

export interface RouteDeps {
  readonly service: DistributionService;
  readonly ingest: IngestService;
  readonly hls: HlsDelivery;
  readonly encoders: EncoderManager;
  readonly maxSegmentBytes: number;
  /** onRequest hook of the operations that need the admin token. */
  readonly admin: (request: FastifyRequest) => Promise<void>;
  readonly longPollMs: number;
  readonly maxLongPollMs: number;
}

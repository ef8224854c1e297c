import pino from 'pino';
import type { ServerConfig } from './config.js';
import { type App, buildApp } from './http/app.js';
import { type IngestOptions, IngestService } from './ingest/ingest-service.js';
import { ffprobeMedia } from './ingest/media-probe.js';
import {
  DistributionService,
  type DistributionServiceOptions,
} from './service/distribution-service.js';
import { HLS_DEFAULTS, HlsDelivery, type HlsOptions } from './service/hls-delivery.js';

export interface RuntimeOptions {
  readonly service?: DistributionServiceOptions;
  readonly ingest?: IngestOptions;
  readonly hls?: HlsOptions;
  readonly logger?: pino.Logger | false;
  readonly longPollMs?: number;
  readonly maxSegmentBytes?: number;
}

/** The parts of a running VTP Live, wired together but not yet listening. */
export interface Runtime {
  readonly app: App;
  readonly service: DistributionService;
  readonly ingest: IngestService;
  readonly hls: HlsDelivery;
  /** Refuses new work, drains deliveries within `deadlineMs`, stops timers and the listener. */
  close(deadlineMs: number): Promise<boolean>;
}

/** Builds service, ingest, HLS delivery and the HTTP app, and starts their timers. */
export function createRuntime(options: RuntimeOptions = {}): Runtime {
  const service = new DistributionService(options.service);
  const ingest = new IngestService(service, options.ingest);
  const hls = new HlsDelivery(service, options.hls ?? HLS_DEFAULTS);
  const app = buildApp({
    service,
    ingest,
    hls,
    logger: options.logger ?? false,
    ...(options.longPollMs !== undefined && { longPollMs: options.longPollMs }),
    ...(options.maxSegmentBytes !== undefined && { maxSegmentBytes: options.maxSegmentBytes }),
  });
  service.start();
  ingest.start();
  const pruner = setInterval(() => hls.prune(), 10_000).unref();
  let closing: Promise<boolean> | undefined;
  return {
    app,
    service,
    ingest,
    hls,
    close(deadlineMs) {
      closing ??= (async () => {
        clearInterval(pruner);
        ingest.stop();
        // Refuse new connections and new deliveries at once; both drain within the deadline.
        const [drained] = await Promise.all([service.shutdown(deadlineMs), app.close()]);
        return drained;
      })();
      return closing;
    },
  };
}

export interface RunningServer extends Omit<Runtime, 'close'> {
  readonly url: string;
  /** Closes with the configured shutdown deadline; resolves whether deliveries drained. */
  close(): Promise<boolean>;
}

/** Starts VTP Live as configured and listens. */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const logger = pino({ level: config.logLevel, name: 'vtp-live' });
  const runtime = createRuntime({
    logger,
    longPollMs: config.longPollMs,
    maxSegmentBytes: config.maxSegmentMiB * 1024 * 1024,
    hls: { playlistSegments: config.playlistSegments },
    service: {
      workers: config.workers,
      queueCapacity: config.queueCapacity,
      retentionMs: config.retentionSeconds * 1000,
      defaultMaxViewers: config.maxViewers,
      idleTimeoutMs: config.idleTimeoutSeconds * 1000,
      ...(config.cdnBaseUrl && { cdnBaseUrl: config.cdnBaseUrl }),
    },
    ingest: {
      publishKey: config.publishKey,
      encoderTimeoutMs: config.encoderTimeoutSeconds * 1000,
      probe: ffprobeMedia(),
      warn: (message, detail) => logger.warn({ err: detail }, message),
    },
  });
  await runtime.app.listen({ host: config.host, port: config.port });
  const address = runtime.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const close = () => runtime.close(config.shutdownTimeoutSeconds * 1000);
  return { ...runtime, url: `http://${host}:${port}`, close };
}

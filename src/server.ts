import pino from 'pino';
import type { ServerConfig } from './config.js';
import { type App, buildApp } from './http/app.js';
import { DistributionService } from './service/distribution-service.js';

export interface RunningServer {
  readonly app: App;
  readonly service: DistributionService;
  readonly url: string;
  /** Stops taking requests and work, drains deliveries; resolves whether the queue drained. */
  close(): Promise<boolean>;
}

/** Starts the service and the HTTP server on the configured address. */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const logger = pino({ level: config.logLevel, name: 'vtp-live' });
  const service = new DistributionService({
    workers: config.workers,
    queueCapacity: config.queueCapacity,
    retentionMs: config.retentionSeconds * 1000,
    defaultMaxViewers: config.maxViewers,
    ...(config.cdnBaseUrl && { cdnBaseUrl: config.cdnBaseUrl }),
  });
  service.start();
  const app = buildApp({ service, logger, longPollMs: config.longPollMs });
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  let closing: Promise<boolean> | undefined;
  return {
    app,
    service,
    url: `http://${host}:${port}`,
    close() {
      closing ??= (async () => {
        // Refuse new connections and new deliveries at once; both drain within the deadline.
        const [drained] = await Promise.all([
          service.shutdown(config.shutdownTimeoutSeconds * 1000),
          app.close(),
        ]);
        return drained;
      })();
      return closing;
    },
  };
}

import cluster from 'node:cluster';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import pino from 'pino';
import type { ServerConfig } from '../config.js';
import { clientErrorHandler } from '../http/error-mapping.js';
import { redactingLoggerOptions } from '../http/log-redaction.js';
import { PROBE_PATHS } from '../http/routes/probes.js';
import { logProcessOutput } from '../process-log.js';
import { loggedSecrets, SERVER_DEFAULTS } from '../server.js';
import { SERVICE_DEFAULTS } from '../service/distribution-service.js';
import { PlaybackTokens } from '../service/playback-tokens.js';
import { CLUSTER_DEFAULTS } from './cluster-defaults.js';
import { forwardingHeaders } from './forwarded-for.js';
import { hlsCors } from './hls-cors.js';
import { hlsEdge } from './hls-edge.js';
import { OriginProxy, sendErrorCode } from './origin-proxy.js';
import { isVtpMessage, type PrimaryMessage, type WorkerMessage } from './replica-messages.js';
import { StreamReplicas } from './stream-replicas.js';
import { UsageBatch } from './usage.js';

/** Fastify's keep-alive timeout, which the primary's listener has: one server to a client. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/**
 * One HLS worker (a node:cluster worker of `vtp-live serve --processes N`): asks the primary for
 * its snapshot, listens on the public port the workers share, serves live HLS from its replica
 * and passes everything else to the primary, sending what it served every 100 ms. Stops when
 * the primary says (or on SIGTERM), after what is in flight; SIGINT is the primary's to handle.
 */
export async function runWorker(config: ServerConfig): Promise<void> {
  const id = cluster.worker?.id ?? 0;
  const log = pino({
    level: config.logLevel,
    name: 'vtp-live',
    base: { pid: process.pid, worker: id },
    // The primary's list: a worker's log lines are as safe to ship as the primary's.
    ...redactingLoggerOptions(loggedSecrets(config)),
  });
  logProcessOutput(log);
  const send = (message: WorkerMessage, then?: () => void) => {
    if (!process.connected) return then?.();
    process.send?.(message, undefined, {}, () => then?.());
  };
  // Edge reports make the primary seat at the playlist (server.ts): the replicas render alike.
  const replicas = new StreamReplicas({
    playlistSegments: config.playlistSegments,
    seatAtPlaylist: Boolean(config.edgeReports),
  });
  const usage = new UsageBatch();
  const sendUsage = (then?: () => void) => {
    if (usage.size === 0) return then?.();
    send({ type: 'vtp:usage', ops: usage.take() }, then);
  };
  let draining: ((deadlineMs: number) => void) | undefined;
  let pendingDrain: number | undefined;
  let told = false;
  const ready = new Promise<Extract<PrimaryMessage, { type: 'vtp:ready' }>>((resolve) => {
    process.on('message', (message: unknown) => {
      if (!isVtpMessage(message)) return;
      const m = message as PrimaryMessage;
      if (m.type === 'vtp:ready') {
        told = true;
        resolve(m);
      } else if (m.type === 'vtp:flush') sendUsage(() => send({ type: 'vtp:flushed', id: m.id }));
      else if (m.type === 'vtp:drain') {
        if (draining) draining(m.deadlineMs);
        // Still getting its snapshot: nothing served, nothing to finish (the rest never comes).
        else if (!told) process.exit(0);
        else pendingDrain = m.deadlineMs;
      } else {
        try {
          replicas.apply(m);
        } catch (err) {
          log.error({ err, message: m.type }, 'replica update failed');
        }
      }
    });
  });
  // Without its primary a worker has nothing to serve from.
  process.once('disconnect', () => process.exit(0));
  process.on('SIGINT', () => {});
  process.once('SIGTERM', () => draining?.(config.shutdownTimeoutSeconds * 1000));
  send({ type: 'vtp:hello' });
  const { origin, proxySecret } = await ready;

  const proxy = new OriginProxy({
    origin,
    forwarding: forwardingHeaders(config.trustProxy),
    proxySecret,
  });
  const edge = hlsEdge({
    replicas,
    usage,
    proxy: (req, res) => proxy.forward(req, res),
    playback: config.playbackSecret
      ? new PlaybackTokens(config.playbackSecret, config.playbackTokenTtlSeconds)
      : undefined,
    cors: await hlsCors(config.corsOrigins),
    servedBy: `worker-${id}`,
  });
  let closing = false;
  const server = createServer(
    {
      requestTimeout: config.requestTimeoutSeconds * 1000,
      headersTimeout: Math.min(config.headersTimeoutSeconds, config.requestTimeoutSeconds) * 1000,
      connectionsCheckingInterval: 1000,
      // A request without Host goes to the primary, which answers it in the JSON error body.
      requireHostHeader: false,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      if (!closing) return edge(req, res);
      // Draining: the probes still answer (from the primary); the rest is told to come back.
      if (PROBE_PATHS.has((req.url ?? '').split('?')[0] as string)) return proxy.forward(req, res);
      res.setHeader('connection', 'close');
      sendErrorCode(res, 'SHUTTING_DOWN', 'the server is shutting down; retry shortly');
    },
  );
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.on('clientError', clientErrorHandler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(
      { host: config.host, port: config.port, backlog: SERVER_DEFAULTS.listenBacklog },
      () => resolve(),
    );
  }).catch((err: unknown) => {
    log.fatal({ err }, 'HLS worker could not listen');
    process.exit(1);
  });
  const address = server.address();
  send({ type: 'vtp:listening', port: typeof address === 'object' && address ? address.port : 0 });

  const usageTimer = setInterval(() => sendUsage(), CLUSTER_DEFAULTS.usageIntervalMs);
  // Segments expire here when they do on the primary, by its cleanup interval.
  const cleanupTimer = setInterval(() => replicas.cleanup(), SERVICE_DEFAULTS.cleanupIntervalMs);
  draining = (deadlineMs) => {
    if (closing) return;
    closing = true;
    const deadline = setTimeout(() => server.closeAllConnections(), deadlineMs).unref();
    server.close(() => {
      clearTimeout(deadline);
      clearInterval(usageTimer);
      clearInterval(cleanupTimer);
      proxy.close();
      replicas.clear();
      // The last counts go before the worker does, so the primary stops with all of them.
      sendUsage(() => process.exit(0));
    });
    server.closeIdleConnections();
  };
  if (pendingDrain !== undefined) draining(pendingDrain);
}

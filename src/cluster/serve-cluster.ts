import cluster from 'node:cluster';
import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from '../config.js';
import { logProcessOutput } from '../process-log.js';
import { startServer } from '../server.js';
import { CLUSTER_DEFAULTS, resolveProcesses } from './cluster-defaults.js';
import {
  guardForwarding,
  INTERNAL_HOST,
  newProxySecret,
  primaryTrustProxy,
} from './forwarded-for.js';
import { runWorker } from './hls-worker.js';
import { ReplicaFeed } from './replica-feed.js';
import { renderOnce } from './stream-replicas.js';
import { WorkerPool } from './worker-pool.js';

/** Whether `serve` runs as a cluster: more than one HLS process asked for, or this is a worker. */
export function runsCluster(config: ServerConfig): boolean {
  return cluster.isWorker || resolveProcesses(config.processes) > 1;
}

/** `vtp-live serve --processes N`: this process's part, the primary's or a worker's. */
export async function serveCluster(config: ServerConfig): Promise<void> {
  if (cluster.isWorker) return runWorker(config);
  return runPrimary(config, resolveProcesses(config.processes));
}

/**
 * The primary: the whole server as one process runs it (ingest, control API, state, encoders,
 * the single source of truth) on a loopback port of its own, and `processes` HLS workers on the
 * public one. Until SIGTERM or SIGINT, which stop the workers first (what they pass on finishes
 * here), then the primary, all within the shutdown deadline.
 */
async function runPrimary(config: ServerConfig, processes: number): Promise<void> {
  let pool: WorkerPool | undefined;
  // Drawn anew at every start; the workers get it over IPC with their snapshot.
  const proxySecret = newProxySecret();
  const server = await startServer(
    { ...config, host: INTERNAL_HOST, port: 0, trustProxy: primaryTrustProxy(config.trustProxy) },
    {
      publicHost: config.host,
      beforeListen: (runtime) => {
        guardForwarding(runtime.app.server, proxySecret);
        flushBeforeReads(runtime.app, () => pool);
      },
    },
  );
  const log = server.app.log;
  logProcessOutput(log);
  process.on('exit', () => server.killChildren());
  const feed = new ReplicaFeed(
    server.service,
    (message) => pool?.broadcast(message),
    (recordingId, profile) => renderOnce(server.hls, recordingId, profile),
  );
  feed.start();
  const sync = setInterval(() => feed.sync(), CLUSTER_DEFAULTS.syncIntervalMs).unref();
  pool = new WorkerPool({
    processes,
    feed,
    usage: server.service,
    origin: { host: INTERNAL_HOST, port: Number(new URL(server.url).port) },
    proxySecret,
    log,
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // One deadline for both steps: the primary drains in what the workers left of it.
    const deadlineAt = performance.now() + config.shutdownTimeoutSeconds * 1000;
    log.info({ signal }, 'shutting down: HLS workers first, then draining deliveries');
    clearInterval(sync);
    await pool?.stop(deadlineAt);
    const drained = await server.close(Math.max(0, deadlineAt - performance.now()));
    log.info({ drained }, drained ? 'drained, bye' : 'deadline passed, abandoned the rest');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  let port: number;
  try {
    port = await pool.start();
  } catch (err) {
    log.fatal({ err }, 'the HLS workers could not start');
    await pool.stop(performance.now());
    await server.close();
    process.exit(1);
  }
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  log.info(
    { url, origin: server.url, processes },
    `VTP Live listening on ${url} (${processes} HLS worker processes)`,
  );
}

/**
 * Before the primary answers a read of the control API or /metrics, the workers send what they
 * counted and it is applied (bounded by CLUSTER_DEFAULTS.flushWaitMs), so a read sees every
 * segment a worker finished sending before it. Reads only (GET, HEAD), and at preHandler: after
 * the admin check and the rate limit (onRequest), so a refused request costs no flush; callers
 * at the same moment share one (WorkerPool.flush).
 */
function flushBeforeReads(app: FastifyInstance, pool: () => WorkerPool | undefined): void {
  app.addHook('preHandler', (request, _reply, done) => {
    const workers = pool();
    if (!workers || (request.method !== 'GET' && request.method !== 'HEAD')) return done();
    const url = request.url;
    if (!(url.startsWith('/api/') || url === '/metrics' || url.startsWith('/metrics?')))
      return done();
    void workers.flush().then(() => done());
  });
}

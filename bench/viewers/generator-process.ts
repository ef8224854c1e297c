/**
 * Load-generator child process: simulates its share of viewers and reports stats over IPC. A
 * process of its own, so its CPU is read apart from the origin's and the bench's publisher.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ConnectionCounters,
  ConnectionPool,
  KeepAliveConnection,
  type Requester,
  RequestWatchdog,
} from './keep-alive-connection.js';
import { clock, LoadClient } from './load-client.js';
import type { FromGenerator, GeneratorData, SwarmSchedule, ToGenerator } from './swarm-protocol.js';
import { runViewer, type ViewerContext, type ViewerLink } from './viewer.js';

if (!process.send) throw new Error('generator-process.ts runs as a child process with IPC');
// The bench is gone: nothing left to report to.
process.on('disconnect', () => process.exit(0));

/** Resolves once the message is handed to the IPC channel, so a disconnect after it keeps it. */
function send(message: FromGenerator): Promise<void> {
  return new Promise((resolve) => {
    if (process.send) process.send(message, undefined, undefined, () => resolve());
    else resolve();
  });
}

function portOf(origin: string): number {
  return Number(new URL(origin).port);
}

/** One link per viewer: a connection of its own, or the shared pool of its origin. */
function links(data: GeneratorData, watchdog: RequestWatchdog, counters: ConnectionCounters) {
  const requesters: Requester[] = [];
  const pools = data.origins.map((origin) =>
    data.connections === 'per-viewer'
      ? undefined
      : new ConnectionPool(portOf(origin), data.connections, watchdog, counters),
  );
  const viewerLinks = data.viewers.map(({ origin: index }): ViewerLink => {
    const origin = data.origins[index];
    if (origin === undefined) throw new Error(`no origin ${index}`);
    const pool = pools[index];
    if (pool) return { origin, requester: pool };
    const own = new KeepAliveConnection(portOf(origin), watchdog, counters);
    requesters.push(own);
    return { origin, requester: own };
  });
  for (const pool of pools) if (pool) requesters.push(pool);
  const close = () => {
    for (const requester of requesters) requester.close();
  };
  return { viewerLinks, close };
}

async function run(data: GeneratorData, schedule: SwarmSchedule): Promise<void> {
  const client = new LoadClient();
  client.setWindow(schedule.measureFrom, schedule.measureUntil);
  const watchdog = new RequestWatchdog(data.requestTimeoutMs);
  const { viewerLinks, close } = links(data, watchdog, client.stats);
  const ctx: ViewerContext = {
    client,
    masterPath: data.masterPath,
    pollMs: data.pollMs,
    startSegments: data.startSegments,
    expectedBytes: data.expectedBytes,
    stopped: () => clock() >= schedule.measureUntil,
  };
  await sleep(Math.max(0, schedule.startAt - clock()));
  data.viewers.forEach((viewer, i) => {
    const link = viewerLinks[i];
    if (link) void runViewer(ctx, link, viewer.profile);
  });
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  await sleep(Math.max(0, schedule.measureFrom - clock()));
  loopDelay.enable();
  await sleep(Math.max(0, schedule.measureUntil - clock()));
  loopDelay.disable();
  client.stats.loopDelayP99Ms = loopDelay.percentile(99) / 1e6;
  const drainBy = schedule.measureUntil + schedule.drainMs;
  while (client.inFlight > 0 && clock() < drainBy) await sleep(20);
  // Nothing after the window counts: close every connection and report.
  close();
  watchdog.stop();
  await send({ type: 'done', stats: client.stats });
}

let data: GeneratorData | undefined;
process.on('message', (message: ToGenerator) => {
  if (message.type === 'setup') {
    data = message.data;
    void send({ type: 'ready' });
    return;
  }
  const setup = data;
  const running = setup
    ? run(setup, message.schedule)
    : Promise.reject(new Error('start before setup'));
  running
    .catch((error: unknown) =>
      send({ type: 'failed', message: error instanceof Error ? error.message : String(error) }),
    )
    .finally(() => process.disconnect());
});

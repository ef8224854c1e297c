/** Worker-thread entry: simulates its share of viewers against one origin and reports stats. */

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { clock, LoadClient } from './load-client.js';
import type { FromWorker, SwarmSchedule, SwarmWorkerData, ToWorker } from './swarm-protocol.js';
import { runViewer } from './viewer.js';

const port = parentPort;
if (!port) throw new Error('swarm-worker.ts runs as a worker thread');
const data = workerData as SwarmWorkerData;

function send(message: FromWorker): void {
  port?.postMessage(message);
}

async function run(schedule: SwarmSchedule): Promise<void> {
  const client = new LoadClient(data.origin, data.connections, data.requestTimeoutMs);
  client.setWindow(schedule.measureFrom, schedule.measureUntil);
  const masterUrl = new URL(data.masterPath, data.origin);
  const stopped = () => clock() >= schedule.measureUntil;
  await sleep(Math.max(0, schedule.startAt - clock()));
  const ctx = {
    client,
    masterUrl,
    pollMs: data.pollMs,
    startSegments: data.startSegments,
    stopped,
  };
  const viewers = data.profiles.map((profile) => runViewer(ctx, profile));
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  await sleep(Math.max(0, schedule.measureFrom - clock()));
  loopDelay.enable();
  await sleep(Math.max(0, schedule.measureUntil - clock()));
  loopDelay.disable();
  client.stats.loopDelayP99Ms = loopDelay.percentile(99) / 1e6;
  const drainBy = schedule.measureUntil + schedule.drainMs;
  while (client.inFlight > 0 && clock() < drainBy) await sleep(20);
  await client.close();
  // Viewers blocked on a destroyed pool settle with errors outside the window.
  await Promise.allSettled(viewers);
  send({ type: 'done', stats: client.stats });
}

port.on('message', (message: ToWorker) => {
  if (message.type !== 'start') return;
  run(message.schedule).then(
    () => port.close(),
    (error: unknown) => {
      send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
      port.close();
    },
  );
});
send({ type: 'ready' });

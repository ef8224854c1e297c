import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { RuntimeOptions } from '../../src/server.js';

export interface Measurement {
  readonly rss: number;
  readonly heapUsed: number;
  /** Bytes ingest holds. */
  readonly held: number;
  /** Streams the service holds. */
  readonly streams: number;
}

export interface MeasuredServer {
  readonly url: string;
  /** The server process's figures after a full garbage collection. */
  measure(): Promise<Measurement>;
  /** Streams the service holds now (no garbage collection: cheap enough to poll). */
  streams(): Promise<number>;
  close(): Promise<void>;
}

/**
 * The real runtime in a forked process of its own, so its memory is measured without the
 * clients' (JSON-serialisable `options` only).
 */
export async function startMeasuredServer(options: RuntimeOptions = {}): Promise<MeasuredServer> {
  const child = fork(fileURLToPath(new URL('./memory-server.ts', import.meta.url)), {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    env: { ...process.env, VTP_TEST_RUNTIME: JSON.stringify(options) },
  });
  const [ready] = (await once(child, 'message')) as [{ url: string }];
  return {
    url: ready.url,
    async measure() {
      child.send('measure');
      const [figures] = (await once(child, 'message')) as [Measurement];
      return figures;
    },
    async streams() {
      child.send('count');
      const [figures] = (await once(child, 'message')) as [{ streams: number }];
      return figures.streams;
    },
    async close() {
      const exited = once(child, 'exit');
      child.send('close');
      await exited;
    },
  };
}

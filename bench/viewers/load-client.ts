/** Keep-alive GETs over a bounded undici Pool, timed to the full body and tallied per kind. */
import { type Dispatcher, Pool } from 'undici';
import { newLatencyHistogram, recordLatency } from './latency.js';
import type { KindStats, SwarmStats } from './swarm-protocol.js';

export type RequestKind = 'playlist' | 'segment';

export interface Fetched {
  readonly status: number;
  /** The body as text when asked for (playlists); segment bodies are counted and dropped. */
  readonly text: string | undefined;
}

/** Milliseconds since the epoch with sub-ms precision, comparable across worker threads. */
export function clock(): number {
  return performance.timeOrigin + performance.now();
}

function newKindStats(): KindStats {
  return { requests: 0, bytes: 0, errors: 0, latency: newLatencyHistogram() };
}

export function newSwarmStats(): SwarmStats {
  return {
    playlist: newKindStats(),
    segment: newKindStats(),
    errorKinds: {},
    latePolls: 0,
    missedSegments: 0,
    viewersPlaying: 0,
    loopDelayP99Ms: 0,
  };
}

export class LoadClient {
  private readonly pool: Pool;
  readonly stats = newSwarmStats();
  private measureFrom = Number.POSITIVE_INFINITY;
  private measureUntil = Number.NEGATIVE_INFINITY;
  inFlight = 0;

  constructor(
    readonly origin: string,
    connections: number,
    timeoutMs: number,
  ) {
    this.pool = new Pool(origin, {
      connections,
      pipelining: 1,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      keepAliveTimeout: 30_000,
    });
  }

  /** Only requests that finish inside [from, until] are counted. */
  setWindow(from: number, until: number): void {
    this.measureFrom = from;
    this.measureUntil = until;
  }

  /** True while inside the measurement window. */
  measuring(): boolean {
    return this.inWindow(clock());
  }

  private inWindow(at: number): boolean {
    return at >= this.measureFrom && at <= this.measureUntil;
  }

  /** Tallies a failure (inside the window only) under `what`. */
  countError(kind: RequestKind, what: string): void {
    const at = clock();
    if (!this.inWindow(at)) return;
    this.stats[kind].errors++;
    this.stats.errorKinds[what] = (this.stats.errorKinds[what] ?? 0) + 1;
  }

  /** GETs `path`; resolves with status (non-200 is counted as an error) or rejects on I/O error. */
  get(path: string, kind: RequestKind, keepText: boolean): Promise<Fetched> {
    const started = clock();
    this.inFlight++;
    return new Promise<Fetched>((resolve, reject) => {
      let status = 0;
      let bytes = 0;
      const chunks: Buffer[] = [];
      const fail = (error: Error) => {
        this.inFlight--;
        const code = (error as { code?: unknown }).code;
        this.countError(kind, `${typeof code === 'string' ? code : error.name} (${kind})`);
        reject(error);
      };
      const handler: Dispatcher.DispatchHandler = {
        // undici treats a handler as the new (controller) kind only if it has onRequestStart.
        onRequestStart: () => {},
        onResponseStart: (_controller, statusCode) => {
          status = statusCode;
        },
        onResponseData: (_controller, chunk) => {
          bytes += chunk.length;
          if (keepText) chunks.push(chunk);
        },
        onResponseEnd: () => {
          this.inFlight--;
          const finished = clock();
          if (this.inWindow(finished)) {
            const tally = this.stats[kind];
            tally.requests++;
            tally.bytes += bytes;
            recordLatency(tally.latency, finished - started);
          }
          if (status !== 200) this.countError(kind, `HTTP ${status} (${kind})`);
          resolve({ status, text: keepText ? Buffer.concat(chunks).toString('utf8') : undefined });
        },
        onResponseError: (_controller, error) => fail(error),
      };
      try {
        this.pool.dispatch({ origin: this.origin, method: 'GET', path }, handler);
      } catch (error) {
        fail(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}

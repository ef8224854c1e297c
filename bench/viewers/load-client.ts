/** Times GETs to the full body and tallies them per kind, inside the measurement window only. */
import { RequestError, type Requester } from './keep-alive-connection.js';
import { newLatencyHistogram, recordLatency } from './latency.js';
import type { KindStats, SwarmStats } from './swarm-protocol.js';

export type RequestKind = 'playlist' | 'segment';

export interface Fetched {
  readonly status: number;
  readonly bytes: number;
  /** The body as text when asked for (playlists); segment bodies are counted and dropped. */
  readonly text: string | undefined;
}

/** Milliseconds since the epoch with sub-ms precision, comparable across processes. */
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
    segmentsChecked: 0,
    connects: 0,
    loopDelayP99Ms: 0,
  };
}

export class LoadClient {
  readonly stats = newSwarmStats();
  private measureFrom = Number.POSITIVE_INFINITY;
  private measureUntil = Number.NEGATIVE_INFINITY;
  inFlight = 0;

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
    if (!this.measuring()) return;
    this.stats[kind].errors++;
    this.stats.errorKinds[what] = (this.stats.errorKinds[what] ?? 0) + 1;
  }

  /**
   * GETs `path` through `requester`; resolves with the status (non-200 counts as an error).
   * `label` names the request in the error table (default: its kind).
   */
  async get(
    requester: Requester,
    path: string,
    kind: RequestKind,
    keepText: boolean,
    label: string = kind,
  ): Promise<Fetched> {
    const started = clock();
    this.inFlight++;
    try {
      const response = await requester.request(path, keepText);
      const finished = clock();
      if (this.inWindow(finished)) {
        const tally = this.stats[kind];
        tally.requests++;
        tally.bytes += response.bytes;
        recordLatency(tally.latency, finished - started);
      }
      if (response.status !== 200) this.countError(kind, `HTTP ${response.status} (${label})`);
      return {
        status: response.status,
        bytes: response.bytes,
        text: response.body?.toString('utf8'),
      };
    } catch (error) {
      const what = error instanceof RequestError ? error.kind : String(error);
      this.countError(kind, `${what} (${label})`);
      throw error;
    } finally {
      this.inFlight--;
    }
  }
}

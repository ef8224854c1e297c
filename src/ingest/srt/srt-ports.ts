/** A range of UDP ports for SRT listeners, both ends included. */
export interface SrtPortRange {
  from: number;
  to: number;
}

/** Lowest port an SRT listener may take: below it are the privileged ports. */
const LOWEST_PORT = 1024;
/** One listener per live stream: a bigger range is a typo, not a plan. */
const MAX_PORTS = 1000;

/** Parses `--srt-ports FROM-TO`; throws an Error naming the flag and what is wrong. */
export function parseSrtPorts(text: string): SrtPortRange {
  const match = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(text);
  if (!match) throw new Error(`--srt-ports must be FROM-TO (e.g. 9000-9099), got "${text}"`);
  const from = Number(match[1]);
  const to = Number(match[2]);
  for (const port of [from, to])
    if (port < LOWEST_PORT || port > 65535)
      throw new Error(`--srt-ports: port ${port} is outside ${LOWEST_PORT}-65535`);
  if (from > to) throw new Error(`--srt-ports: FROM (${from}) is above TO (${to})`);
  if (to - from + 1 > MAX_PORTS)
    throw new Error(`--srt-ports: ${to - from + 1} ports, at most ${MAX_PORTS}`);
  return { from, to };
}

/** Hands out the ports of a range, one per SRT listener, lowest free first. */
export class SrtPorts {
  /** How many ports the range holds. */
  readonly size: number;
  private readonly taken = new Set<number>();

  constructor(private readonly range: SrtPortRange) {
    this.size = range.to - range.from + 1;
  }

  /** The lowest free port, now taken; undefined when every port is taken. */
  take(): number | undefined {
    for (let port = this.range.from; port <= this.range.to; port++) {
      if (this.taken.has(port)) continue;
      this.taken.add(port);
      return port;
    }
    return undefined;
  }

  /** Gives `port` back (a port not taken, or outside the range, is ignored). */
  release(port: number): void {
    this.taken.delete(port);
  }

  /** How many ports are free. */
  get free(): number {
    return this.size - this.taken.size;
  }
}

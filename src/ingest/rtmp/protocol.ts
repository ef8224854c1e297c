/** Messages between the RTMP child (nms-entry.ts) and its supervisor (rtmp-server.ts), over fork IPC only. */
export type ChildMessage =
  | { type: 'ready' }
  /** `local`: the publisher connected from this host (the SRT relay does). */
  | { type: 'publish'; id: string; key: string; local: boolean }
  | { type: 'ended'; alias: string }
  | StatsMessage;

/**
 * An approved publish's ingest, every STATS_INTERVAL_MS and once as soon as its picture size is
 * known. Addressed by alias only (never the key); fields the child does not know yet are absent.
 */
export interface StatsMessage {
  type: 'stats';
  alias: string;
  /** Bytes received on the publish's connection since it opened. */
  bytesIn: number;
  videoCodec?: string;
  width?: number;
  height?: number;
  fps?: number;
  audioCodec?: string;
}

/** How often the child reports each approved publish. */
export const STATS_INTERVAL_MS = 2_000;

/**
 * Connections the RTMP child holds at once: lecturers and the ladders pulling them, a few per
 * stream. The idle timeout bounds how long a connection stays, this how many (Node closes the
 * ones beyond it as they arrive).
 */
export const MAX_RTMP_CONNECTIONS = 256;

export type ParentMessage =
  | { type: 'approved'; id: string; alias: string }
  | { type: 'refused'; id: string }
  /** End an approved publish (its stream ended or went away): the publisher is disconnected. */
  | { type: 'close'; alias: string };

/** Environment the supervisor sets for the child: never a secret (keys travel over IPC only). */
export const CHILD_ENV = { port: 'VTP_RTMP_PORT', host: 'VTP_RTMP_HOST' } as const;

/** A line the RTMP child printed, with stream paths and names (which hold keys) masked. */
export function redactStreamPaths(text: string): string {
  return text
    .replace(/\/live\/[^\s,'"]*/g, '/live/<redacted>')
    .replace(/name=[^\s,'"]*/g, 'name=<redacted>');
}

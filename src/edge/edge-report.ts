/**
 * One edge request as the edge tier reports it: an nginx access-log line in the format below,
 * sent to the origin over syslog (UDP) and written to the edge's own access log file alike.
 * Pure: the format the generated nginx.conf declares and the parser that reads it live here
 * together, so they cannot drift apart.
 */

/** The syslog tag the edges send under (letters, digits and `_`, as nginx requires). */
export const EDGE_REPORT_TAG = 'vtp_edge';

/** First field of every line: a later format gets a new marker, and old origins skip it. */
export const EDGE_REPORT_VERSION = 'vtp1';

/**
 * The nginx `log_format` body. `$vtp_path` is the request path without its query (the query
 * carries sessions, tokens and CMCD; tokens must not reach logs); nginx writes an empty value
 * as `-` and escapes quotes, backslashes and control bytes, so fields never hold a space.
 */
export function edgeLogFormat(edgeName: string): string {
  return [
    EDGE_REPORT_VERSION,
    edgeName,
    '$status',
    '$upstream_cache_status',
    '$body_bytes_sent',
    '$request_method',
    '$vtp_path',
    '$arg_session',
  ].join(' ');
}

/** What a request's cache status says about where its bytes came from. */
export type CacheOutcome = 'hit' | 'stale' | 'miss' | 'bypass' | 'uncached';

/** What a request asked for: playlists change, segments (and init sections) never do. */
export type EdgeRequestKind = 'playlist' | 'segment' | 'other';

export interface EdgeReport {
  /** The edge's name (its `--edge-name`, by default its host name and port). */
  readonly edge: string;
  readonly status: number;
  readonly outcome: CacheOutcome;
  /** nginx's own word for it (HIT, MISS, EXPIRED, ...; `-` where no cache was consulted). */
  readonly cacheStatus: string;
  readonly bytes: number;
  readonly method: string;
  readonly path: string;
  readonly kind: EdgeRequestKind;
  /** `?session=` of the request, when it named a well-formed one. */
  readonly session: string | undefined;
}

/**
 * nginx's `$upstream_cache_status` values. HIT and REVALIDATED (a 304 from the origin) serve
 * the cached bytes; STALE and UPDATING serve an expired copy while the origin is asked in the
 * background (or is failing); MISS and EXPIRED wait for the origin; BYPASS skipped the cache on
 * purpose (a viewer's own playlist); `-` is a location without a cache (the API, pages).
 */
const OUTCOMES: Readonly<Record<string, CacheOutcome>> = {
  HIT: 'hit',
  REVALIDATED: 'hit',
  STALE: 'stale',
  UPDATING: 'stale',
  MISS: 'miss',
  EXPIRED: 'miss',
  BYPASS: 'bypass',
  '-': 'uncached',
};

const EDGE_NAME = /^[A-Za-z0-9._:-]{1,255}$/;
const SESSION = /^[A-Za-z0-9._-]{1,128}$/;
/** Longer than any request line nginx takes by default (large_client_header_buffers: 8 KiB). */
const MAX_FIELD_LENGTH = 8192;

/** Whether `name` may stand for an edge in the log format and in metric labels. */
export function validEdgeName(name: string): boolean {
  return EDGE_NAME.test(name);
}

/** The kind of object a path names on the origin (README "HLS delivery", "Recordings"). */
export function requestKind(path: string): EdgeRequestKind {
  if (!path.startsWith('/live/') && !path.startsWith('/vod/')) return 'other';
  return path.endsWith('.m3u8') ? 'playlist' : 'segment';
}

/**
 * Reads one log line (the message itself, as the edge's file holds it); undefined if it is not
 * one. Every request the edge logged counts, a bad one (junk method, path or session) included:
 * what a client sent must not change the edge's totals, so only the fields nginx itself writes
 * (edge name, status, cache status, bytes) must be well formed.
 */
export function parseEdgeLine(line: string): EdgeReport | undefined {
  if (line.length > 4 * MAX_FIELD_LENGTH) return undefined;
  const fields = line.trim().split(' ');
  if (fields.length !== 8 || fields[0] !== EDGE_REPORT_VERSION) return undefined;
  const [
    ,
    edge = '',
    status = '',
    cacheStatus = '',
    bytes = '',
    method = '',
    path = '',
    session = '',
  ] = fields;
  const outcome = OUTCOMES[cacheStatus];
  if (
    outcome === undefined ||
    !EDGE_NAME.test(edge) ||
    !/^\d{3}$/.test(status) ||
    !/^\d{1,15}$/.test(bytes) ||
    [method, path, session].some((field) => field === '' || field.length > MAX_FIELD_LENGTH)
  ) {
    return undefined;
  }
  return {
    edge,
    status: Number(status),
    outcome,
    cacheStatus,
    bytes: Number(bytes),
    method,
    path,
    kind: requestKind(path),
    session: session !== '-' && SESSION.test(session) ? session : undefined,
  };
}

/**
 * Reads one syslog datagram as nginx sends it (`<PRI>Mmm dd hh:mm:ss [host ]vtp_edge: line`).
 * The header is skipped up to the tag: its time is the edge's clock, and the origin counts on
 * arrival anyway. Undefined for anything else.
 */
export function parseEdgeDatagram(datagram: string): EdgeReport | undefined {
  if (!datagram.startsWith('<')) return undefined;
  const marker = ` ${EDGE_REPORT_TAG}: `;
  const at = datagram.indexOf(marker);
  // The header is short: a tag found far into the text is part of something else.
  if (at < 0 || at > 300) return undefined;
  return parseEdgeLine(datagram.slice(at + marker.length));
}

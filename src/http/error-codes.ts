import { HTTP_DEFAULTS } from './http-defaults.js';

/**
 * Every error code the server answers, in one table: its HTTP status, what it means (the README's
 * "Error codes" table shows the same line), whether and when a client should ask again, and the
 * challenge a 401 names. Domain errors carry only a code; the HTTP edge reads the rest here.
 */

/**
 * Whether asking again can help: `no` (not unchanged), `soon` (media not there yet: answered
 * with `Cache-Control: public, max-age=1`, so players and CDNs ask again in a second) or `after`
 * (a limit or a drain: answered with `Retry-After`).
 */
export type RetryHint = 'no' | 'soon' | 'after';

export interface ErrorCodeInfo {
  readonly status: number;
  readonly meaning: string;
  readonly retry: RetryHint;
  /** Seconds of `Retry-After` (retry `after` only; a limiter's own value wins). */
  readonly retryAfterSec?: number;
  /** `WWW-Authenticate` of a 401: how to present the missing credential. */
  readonly challenge?: string;
}

/** Fields every entry shares by status, so the table below reads as one line per code. */
const soon = { retry: 'soon' } as const;
const no = { retry: 'no' } as const;
const busy = { retry: 'after', retryAfterSec: 1 } as const;
const limited = { retry: 'after', retryAfterSec: 5 } as const;
/** Admin token, viewer session and publish key all go in `Authorization: Bearer …`. */
const bearer = { retry: 'no', challenge: 'Bearer' } as const;

export const ERROR_CODES = {
  INVALID_REQUEST: {
    status: 400,
    ...no,
    meaning: 'a field is missing, unknown, of the wrong type or out of range (`field` names it)',
  },
  INVALID_JSON: { status: 400, ...no, meaning: 'the body is not JSON' },
  INVALID_BUFFER_HEALTH: { status: 400, ...no, meaning: '`buffer_health` outside 0-100' },
  INVALID_INGEST: {
    status: 400,
    ...no,
    meaning:
      'a pushed file of an unknown kind, empty, or a playlist that is not a valid media playlist (bad sequence, duration, too many entries)',
  },
  INVALID_SOURCE: {
    status: 400,
    ...no,
    meaning:
      'an encoder source that is not a URL of an allowed scheme or a file in the media directory',
  },
  BAD_URL: {
    status: 400,
    ...no,
    meaning: 'the URL does not decode (the message names its path, never its query)',
  },
  BAD_REQUEST: {
    status: 400,
    ...no,
    meaning:
      "not valid HTTP (refused by Node's parser, or without a Host header), or a body shorter than its Content-Length",
  },
  STEERING_SESSION_REQUIRED: {
    status: 400,
    ...no,
    meaning:
      'a steered playlist (`/live/{id}/auto/index.m3u8`) requested without a session: open `master.m3u8?abr=server`',
  },
  PUBLISH_KEY_REQUIRED: {
    status: 401,
    ...bearer,
    meaning: "a push without the stream's publish key",
  },
  PUBLISH_KEY_INVALID: { status: 403, ...no, meaning: 'a push with a wrong publish key' },
  ADMIN_TOKEN_REQUIRED: {
    status: 401,
    ...bearer,
    meaning: 'an operator action without the admin token',
  },
  ADMIN_TOKEN_INVALID: {
    status: 403,
    ...no,
    meaning: 'an operator action with a wrong admin token',
  },
  VIEWER_AUTH_REQUIRED: {
    status: 401,
    ...bearer,
    meaning: "a viewer operation without that viewer's session or the admin token",
  },
  VIEWER_FORBIDDEN: {
    status: 403,
    ...no,
    meaning: "a bearer token that is another viewer's session, or no live session at all",
  },
  PLAYBACK_TOKEN_REQUIRED: {
    status: 401,
    retry: 'no',
    // The token goes in the query (`?token=`), which no standard scheme names.
    challenge: 'PlaybackToken realm="vtp-live", param="token"',
    meaning: 'a playlist or join without a playback token, on a server that needs one',
  },
  PLAYBACK_TOKEN_INVALID: {
    status: 403,
    ...no,
    meaning: 'a playback token that is malformed, forged, expired, or for another stream or viewer',
  },
  STREAM_NOT_FOUND: { status: 404, ...no, meaning: 'no such stream' },
  VIEWER_NOT_FOUND: { status: 404, ...no, meaning: 'no such viewer on that stream' },
  SEGMENT_NOT_FOUND: {
    status: 404,
    ...soon,
    meaning: 'no such segment (yet, or any more); HLS answers it with `max-age=1`',
  },
  NO_MEDIA_YET: { status: 404, ...soon, meaning: 'the stream has no segment yet; retry shortly' },
  DELIVERY_NOT_FOUND: { status: 404, ...no, meaning: 'no such delivery' },
  ENCODER_NOT_FOUND: { status: 404, ...no, meaning: 'no such encoder job' },
  STREAM_KEY_NOT_FOUND: {
    status: 404,
    ...no,
    meaning: 'the stream has no stream key (start it with `stream_key: true`)',
  },
  RECORDING_NOT_FOUND: {
    status: 404,
    ...no,
    meaning: 'no such recording (none kept on disk for that id, or the rendition has none)',
  },
  ROUTE_NOT_FOUND: { status: 404, ...no, meaning: 'no route for that path' },
  METHOD_NOT_ALLOWED: {
    status: 405,
    ...no,
    meaning: "a known path with a method it does not take (`Allow` lists the path's methods)",
  },
  UPLOAD_TOO_SLOW: {
    status: 408,
    ...no,
    meaning: 'a push slower than the minimum upload rate',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    ...no,
    meaning: 'a request that did not arrive within the request or headers timeout',
  },
  STREAM_EXISTS: { status: 409, ...no, meaning: 'a stream of that id is live' },
  VIEWER_EXISTS: { status: 409, ...no, meaning: 'that viewer already joined' },
  RECORDING_IN_PROGRESS: {
    status: 409,
    ...no,
    meaning: 'the recording is being written (its stream is live); play or delete it once it ended',
  },
  SEGMENT_EXISTS: { status: 409, ...no, meaning: 'a segment of that id was already published' },
  SEGMENT_OUT_OF_ORDER: {
    status: 409,
    ...no,
    meaning: 'a segment that does not follow the newest one',
  },
  STREAM_ENDED: { status: 409, ...no, meaning: 'the stream has ended' },
  PUBLISHING_OFF: {
    status: 409,
    ...no,
    meaning: 'stream keys need RTMP publishing, which is off (`--rtmp-port 0`)',
  },
  VIEWER_BACKLOG_FULL: {
    status: 409,
    ...no,
    meaning: 'the viewer has too many delivered segments it has not fetched',
  },
  ENCODER_EXISTS: { status: 409, ...no, meaning: 'the stream already has an encoder running' },
  INIT_SECTIONS_FULL: {
    status: 409,
    ...no,
    meaning: 'a new init section while the playlist names every kept one',
  },
  SEGMENTS_WAITING_FULL: {
    status: 409,
    ...no,
    meaning: 'too many segment files wait for their playlist entry',
  },
  SEGMENT_REFUSED: {
    status: 409,
    ...no,
    meaning: "a ready segment the stream would not take (the push's others were published)",
  },
  BODY_TOO_LARGE: {
    status: 413,
    ...no,
    meaning: `a body over its limit (${HTTP_DEFAULTS.bodyLimitBytes / 1024} KiB for the API; by kind for ingest)`,
  },
  STREAM_BUDGET_EXCEEDED: {
    status: 413,
    ...no,
    meaning: 'the push would take the stream past its ingest budget',
  },
  URI_TOO_LONG: {
    status: 414,
    ...no,
    meaning: "a path segment longer than any id can be, or a URL over Node's header limit",
  },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, ...no, meaning: 'the control API takes JSON only' },
  RANGE_NOT_SATISFIABLE: {
    status: 416,
    ...no,
    meaning:
      'a `Range` past the end of a segment or init section (`Content-Range: bytes */size` gives its size)',
  },
  RATE_LIMITED: {
    status: 429,
    ...limited,
    meaning: 'too many API requests or joins from this client this minute',
  },
  TOO_MANY_ANONYMOUS_SESSIONS: {
    status: 429,
    ...limited,
    meaning: 'this client already holds its anonymous sessions (or anonymous viewing is off)',
  },
  HEADERS_TOO_LARGE: { status: 431, ...no, meaning: "request headers over Node's limit" },
  INTERNAL: {
    status: 500,
    ...no,
    meaning: "a fault of the server's own (logged); never caused by what a client sent",
  },
  STREAM_FULL: { status: 503, ...busy, meaning: 'the stream is at `max_viewers`' },
  PROFILE_FULL: {
    status: 503,
    ...busy,
    meaning: 'no profile at or below the wanted one has room',
  },
  QUEUE_FULL: { status: 503, ...busy, meaning: 'the delivery queue is full' },
  SHUTTING_DOWN: {
    status: 503,
    ...busy,
    meaning: 'the server is draining (`/livez` and `/readyz` still answer)',
  },
  NOT_LISTENING: {
    status: 503,
    ...busy,
    meaning: 'the server is not listening yet (encoders cannot start)',
  },
  TOO_MANY_STREAMS: {
    status: 503,
    ...busy,
    meaning: 'the server holds `--max-streams` streams',
  },
  ANONYMOUS_BACKLOG_FULL: {
    status: 503,
    ...busy,
    meaning: 'too many anonymous sessions wait for their first segment',
  },
  INGEST_BUDGET_EXCEEDED: {
    status: 503,
    ...busy,
    meaning: 'ingest holds its server-wide budget',
  },
  SHARED_STATE_UNAVAILABLE: {
    status: 503,
    ...busy,
    meaning:
      'the state shared with other origins (`--state-url`) cannot be reached; joins and new anonymous seats wait for it',
  },
  // 507 (Insufficient Storage, RFC 4918) rather than 503: a full or failing disk is not a
  // moment's load that Retry-After could promise to clear, and the segment is already live.
  STORAGE_FAILED: {
    status: 507,
    ...no,
    meaning:
      'a pushed segment was published but could not be stored in the data directory (disk full or failing); the recording lacks it',
  },
} as const satisfies Readonly<Record<string, ErrorCodeInfo>>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The entry of `code`, or undefined for a code the table does not know. */
export function errorCodeInfo(code: string): ErrorCodeInfo | undefined {
  return Object.hasOwn(ERROR_CODES, code) ? ERROR_CODES[code as ErrorCode] : undefined;
}

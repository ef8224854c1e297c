import type { IncomingMessage, ServerResponse } from 'node:http';
import { PROFILE_NAMES, type ProfileName } from '../core/profiles.js';
import type { InitSection, Segment } from '../core/segment.js';
import { IMMUTABLE_CACHE_CONTROL, PLAYLIST_TYPE, playlistMaxAgeSec } from '../hls/http-caching.js';
import { requestedRange } from '../http/byte-range.js';
import { clientReport } from '../http/cmcd.js';
import { ifNoneMatchHits } from '../http/entity-tag.js';
import { ID_PATTERN } from '../http/schemas.js';
import { type ClientReport, HLS_DEFAULTS } from '../service/hls-delivery.js';
import type { PlaybackTokens } from '../service/playback-tokens.js';
import type { HlsCors } from './hls-cors.js';
import { encodePlaylist } from './playlist-encoding.js';
import type { StreamReplica, StreamReplicas } from './stream-replicas.js';
import { type UsageBatch, usageReport } from './usage.js';

export interface HlsEdgeOptions {
  readonly replicas: StreamReplicas;
  readonly usage: UsageBatch;
  /** Passes a request to the primary (origin-proxy.ts). */
  readonly proxy: (req: IncomingMessage, res: ServerResponse) => void;
  /** Playback tokens when the server needs them (the same secret as the primary's). */
  readonly playback: PlaybackTokens | undefined;
  readonly cors: HlsCors;
  /** `X-Served-By` of what this worker answers itself (`worker-N`). */
  readonly servedBy: string;
  readonly clock?: () => number;
}

const ID = new RegExp(ID_PATTERN);
const PROFILES = new Set<string>(PROFILE_NAMES);
/** Longest `CMCD` and `token` the HLS routes' schema takes. */
const MAX_QUERY_VALUE = 4096;

/** What the query of an HLS URL says (the parameters the HLS routes take). */
interface HlsQuery {
  session?: string;
  CMCD?: string;
  token?: string;
}

/** An HLS URL a worker may answer: which stream, which object, and what the query says. */
type HlsTarget =
  | { readonly kind: 'master'; readonly recordingId: string; readonly query: HlsQuery }
  | {
      readonly kind: 'media' | 'object';
      readonly recordingId: string;
      readonly profile: ProfileName;
      /** The file name (the object's id; `index.m3u8` for a media playlist). */
      readonly file: string;
      readonly query: HlsQuery;
    };
type RenditionTarget = Extract<HlsTarget, { kind: 'media' | 'object' }>;

/** What a worker keeps per published object: its response headers, built once, and its bytes. */
interface PreparedObject {
  readonly ok: string[];
  readonly notModified: string[];
  readonly body: Buffer;
}

/**
 * A worker's HTTP front: GETs of live playlists, segments and init sections that its replica
 * can answer exactly as the primary would (same HlsDelivery rendering, same bytes, same headers)
 * are answered here; everything else goes to the primary unchanged through `proxy`: the control
 * API, ingest, pages, metrics, recordings, HEAD and preflights, a request naming a session this
 * worker does not know (a new player's first segment, where the primary seats it, or one gone),
 * a master playlist before its media is described, and every error (the primary words them).
 * What it serves goes to `usage`, which the primary applies to the real sessions.
 */
export function hlsEdge(
  options: HlsEdgeOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { replicas, usage, proxy, playback, cors, servedBy } = options;
  const clock = options.clock ?? Date.now;
  const prepared = new WeakMap<Segment | InitSection, PreparedObject>();
  const playlistVary = cors.vary ? `${cors.vary}, accept-encoding` : 'accept-encoding';
  const objectHeaders = cors.vary ? [...cors.headers, 'vary', cors.vary] : [...cors.headers];

  /** The 200 and 304 headers of an object, and a Buffer over its bytes: once per object. */
  const prepare = (object: Segment | InitSection): PreparedObject => {
    let ready = prepared.get(object);
    if (ready) return ready;
    const cacheable = [
      'accept-ranges',
      'bytes',
      ...objectHeaders,
      'cache-control',
      IMMUTABLE_CACHE_CONTROL,
    ];
    if (object.etag !== undefined) cacheable.push('etag', object.etag);
    cacheable.push('x-served-by', servedBy);
    const data = object.data;
    ready = {
      ok: [
        ...cacheable,
        'content-type',
        object.contentType,
        'content-length',
        String(data.byteLength),
      ],
      notModified: cacheable,
      body: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    };
    prepared.set(object, ready);
    return ready;
  };

  /** A segment or init section; false sends the request to the primary. */
  const serveObject = (
    req: IncomingMessage,
    res: ServerResponse,
    replica: StreamReplica,
    target: RenditionTarget,
  ): boolean => {
    const object = replica.hls.object(target.recordingId, target.profile, target.file);
    if (!object) return false;
    const report = clientReport(target.query, req.headers);
    const segment = 'sequence' in object ? object : undefined;
    let sessionId: string | undefined;
    if (segment && report.sessionId !== undefined) {
      // A session this worker does not know waits for its seat (the primary gives it), or is gone.
      if (!replica.service.findSession(report.sessionId)) return false;
      sessionId = report.sessionId;
    }
    const ready = prepare(object);
    if (object.etag !== undefined && ifNoneMatchHits(req.headers['if-none-match'], object.etag)) {
      res.writeHead(304, ready.notModified);
      res.end();
      return true;
    }
    const size = object.data.byteLength;
    let range: { start: number; end: number } | undefined;
    try {
      range = requestedRange(req.headers, size, object.etag);
    } catch {
      return false;
    }
    let body = ready.body;
    if (range) {
      body = body.subarray(range.start, range.end + 1);
      res.writeHead(206, [
        ...ready.notModified,
        'content-type',
        object.contentType,
        'content-range',
        `bytes ${range.start}-${range.end}/${size}`,
        'content-length',
        String(body.byteLength),
      ]);
    } else {
      res.writeHead(200, ready.ok);
    }
    if (segment)
      account(res, replica, segment, body.byteLength, body.byteLength === size, sessionId, report);
    res.end(body);
    return true;
  };

  /** Counts a segment response once it is fully sent, as the primary's HLS route does. */
  const account = (
    res: ServerResponse,
    replica: StreamReplica,
    segment: Segment,
    bytes: number,
    whole: boolean,
    sessionId: string | undefined,
    report: ClientReport,
  ): void => {
    const started = performance.now();
    res.once('finish', () => {
      const elapsedMs = performance.now() - started;
      usage.add({
        kind: 'fetch',
        recordingId: replica.recordingId,
        incarnation: replica.incarnation,
        sessionId,
        profile: segment.profile,
        sequence: segment.sequence,
        bytes,
        whole,
        sampleKbps:
          sessionId !== undefined && elapsedMs > 0 && bytes >= HLS_DEFAULTS.minThroughputSampleBytes
            ? (bytes * 8) / elapsedMs
            : undefined,
        report: usageReport(report),
        at: clock(),
      });
    });
  };

  /** A seated session's playlist request, for the primary to apply as its own. */
  const reportPlaylist = (
    replica: StreamReplica,
    sessionId: string,
    report: ClientReport,
    observed: ProfileName | undefined,
  ): void => {
    usage.add({
      kind: 'report',
      recordingId: replica.recordingId,
      incarnation: replica.incarnation,
      sessionId,
      observed,
      report: usageReport(report),
      at: clock(),
    });
  };

  /** A rendition's media playlist; false sends the request to the primary. */
  const serveMedia = async (
    req: IncomingMessage,
    res: ServerResponse,
    replica: StreamReplica,
    target: RenditionTarget,
  ): Promise<boolean> => {
    const report = clientReport(target.query, req.headers);
    const known = knownSession(replica, report);
    if (known === false || !(await playable(replica, target, report))) return false;
    const profile = target.profile;
    const text = replica.hls.mediaPlaylist(target.recordingId, profile, report);
    if (known !== undefined) {
      // Behind a CDN or edges the media playlist stands for the rendition a player takes, by
      // the primary's own rule (the replicas' HlsDelivery has its options).
      reportPlaylist(replica, known, report, replica.hls.segmentsHidden() ? profile : undefined);
    }
    const maxAge = playlistMaxAgeSec(replica.distributor.targetDurationSec);
    const scope = report.sessionId ? 'private' : 'public';
    sendPlaylist(req, res, text, `${scope}, max-age=${maxAge}`, undefined);
    return true;
  };

  /** The multivariant playlist of a seated session; false sends the request to the primary. */
  const serveMaster = async (
    req: IncomingMessage,
    res: ServerResponse,
    replica: StreamReplica,
    target: HlsTarget,
  ): Promise<boolean> => {
    const report = clientReport(target.query, req.headers);
    // A player without a seated session gets one from the primary, which admits and counts.
    const known = knownSession(replica, report);
    if (known === undefined || known === false) return false;
    if (!(await playable(replica, target, report))) return false;
    // The primary waits for a running probe before writing a master without CODECS.
    const distributor = replica.distributor;
    if (
      PROFILE_NAMES.some(
        (p) => distributor.window(p).size > 0 && distributor.mediaInfo(p) === undefined,
      )
    ) {
      return false;
    }
    const { text, sessionId } = await replica.hls.multivariant(target.recordingId, report, {
      token: playback ? target.query.token : undefined,
    });
    reportPlaylist(replica, known, report, undefined);
    sendPlaylist(req, res, text, 'private, no-store', sessionId);
    return true;
  };

  /** Whether playback may go on here: no token needed, or a valid one for this stream and viewer. */
  const playable = async (
    replica: StreamReplica,
    target: HlsTarget,
    report: ClientReport,
  ): Promise<boolean> => {
    if (!playback) return true;
    try {
      const grant = await playback.check(target.query.token, target.recordingId);
      if (grant.viewerId === undefined || report.sessionId === undefined) return true;
      const found = replica.service.findSession(report.sessionId);
      return !found || found.session.viewerId === grant.viewerId;
    } catch {
      return false;
    }
  };

  const sendPlaylist = (
    req: IncomingMessage,
    res: ServerResponse,
    text: string,
    cacheControl: string,
    sessionId: string | undefined,
  ): void => {
    const { body, encoding } = encodePlaylist(text, req.headers);
    const headers = [...cors.headers, 'vary', playlistVary];
    headers.push('content-type', PLAYLIST_TYPE, 'cache-control', cacheControl);
    if (sessionId !== undefined) headers.push('x-vtp-session', sessionId);
    if (encoding !== undefined) headers.push('content-encoding', encoding);
    headers.push('content-length', String(body.byteLength), 'x-served-by', servedBy);
    res.writeHead(200, headers);
    res.end(body);
  };

  return (req, res) => {
    const target = localTarget(req, cors);
    const replica = target && replicas.get(target.recordingId);
    if (!target || !replica) {
      proxy(req, res);
      return;
    }
    if (target.kind === 'object') {
      if (!serveObject(req, res, replica, target)) proxy(req, res);
      return;
    }
    const served =
      target.kind === 'media'
        ? serveMedia(req, res, replica, target)
        : serveMaster(req, res, replica, target);
    served.then(
      (served) => {
        if (!served) proxy(req, res);
      },
      // The replica could not answer (no media yet, say): the primary words the error.
      () => {
        if (res.headersSent) res.destroy();
        else proxy(req, res);
      },
    );
  };
}

/**
 * The session a request names, when this worker knows it as seated: undefined for none named,
 * false for one it does not know (the primary decides what that one is).
 */
function knownSession(replica: StreamReplica, report: ClientReport): string | undefined | false {
  if (report.sessionId === undefined) return undefined;
  return replica.service.findSession(report.sessionId) ? report.sessionId : false;
}

/**
 * The HLS target of a request a worker may answer itself: a GET (HEAD goes to the primary) of a
 * live URL whose parts and query the HLS routes' schemas would take as they are (anything odd,
 * an encoded character, a repeated or overlong parameter, is the primary's to answer).
 */
function localTarget(req: IncomingMessage, cors: HlsCors): HlsTarget | undefined {
  const url = req.url;
  if (req.method !== 'GET' || url === undefined || !url.startsWith('/live/')) return undefined;
  // An HTTP/1.1 request without Host is refused, and an Origin may decide the CORS answer.
  if (req.headers.host === undefined) return undefined;
  if (cors.originDecides && req.headers.origin !== undefined) return undefined;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (path.includes('%')) return undefined;
  const parts = path.split('/');
  const recordingId = parts[2] as string;
  if (!ID.test(recordingId)) return undefined;
  const file = parts[parts.length - 1] as string;
  const master = parts.length === 4 && file === 'master.m3u8';
  const rendition = parts.length === 5 && PROFILES.has(parts[3] as string);
  if (!master && !(rendition && (file === 'index.m3u8' || ID.test(file)))) return undefined;
  const query: HlsQuery = {};
  if (q !== -1) {
    const params = new URLSearchParams(url.slice(q + 1));
    // A steered viewer (`abr`) is the primary's: it holds the steering state.
    if (params.has('abr')) return undefined;
    for (const name of ['session', 'CMCD', 'token'] as const) {
      const values = params.getAll(name);
      if (values.length > 1) return undefined;
      const value = values[0];
      if (value === undefined) continue;
      if (name === 'session' ? !ID.test(value) : value.length > MAX_QUERY_VALUE) return undefined;
      query[name] = value;
    }
  }
  if (master) return { kind: 'master', recordingId, query };
  const profile = parts[3] as ProfileName;
  return { kind: file === 'index.m3u8' ? 'media' : 'object', recordingId, profile, file, query };
}

import type { BrowserContext, Page, Request } from 'playwright-core';
import { playerPage, startPageOrigin } from './page-origin.js';

/**
 * A plain hls.js player configured as the player page (src/web/watch.js) configures it: CMCD in
 * the query, the joined session as CMCD `sid`, three segments behind the live edge. Unlike the
 * player page it posts no `adapt-quality` reports, so the buffer health the server holds comes
 * from CMCD alone. It records what the player did for the test to read (`window.played`).
 */
const PAGE = playerPage(`
  const query = new URLSearchParams(location.search);
  const played = (window.played = {
    errors: [], frags: [], media: [], stalledErrors: 0, mediaSeconds: 0, stoppedAt: null,
  });
  const hls = new Hls({
    cmcd: {
      sessionId: query.get('sid') || undefined,
      contentId: query.get('cid') || undefined,
      useHeaders: false,
    },
    liveSyncDurationCount: 3,
  });
  hls.on(Hls.Events.ERROR, (_event, data) => {
    played.errors.push({
      at: Date.now(), type: data.type, details: data.details, fatal: data.fatal,
      message: data.error ? String(data.error.message) : undefined, event: data.event,
    });
    if (data.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) played.stalledErrors++;
  });
  // Loaded fragments' bytes (hls.js's own count); stopAfterFragment() stops loading right after
  // one, so that no segment is left half fetched (hls.js asks for the next only once this one
  // is buffered). Its transmuxer worker may then raise an internalException for the fragment it
  // was given: that is after the stop and touches no request.
  let stopAfterFragment = false;
  const stop = () => {
    hls.stopLoad();
    video.pause();
    played.stoppedAt = Date.now();
  };
  hls.on(Hls.Events.FRAG_LOADED, (_event, data) => {
    // The payload itself is already handed to the transmuxer (detached) when listeners run.
    played.frags.push({ at: Date.now(), sn: data.frag.sn, url: data.frag.url, bytes: data.frag.stats.loaded });
    if (stopAfterFragment && played.stoppedAt === null) stop();
  });
  window.stopAfterFragment = () => { stopAfterFragment = true; };
  for (const type of ['waiting', 'playing']) {
    video.addEventListener(type, () => played.media.push({ type, at: Date.now(), time: video.currentTime }));
  }
  // Media time played: the playhead's forward steps while playing (jumps of a seek left out).
  let last = 0;
  setInterval(() => {
    const step = video.currentTime - last;
    if (!video.paused && !video.seeking && step > 0 && step < 1) played.mediaSeconds += step;
    last = video.currentTime;
  }, 100);
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
  hls.loadSource(query.get('src'));
  hls.attachMedia(video);
`);

export interface PlayedFragment {
  readonly at: number;
  readonly sn: number;
  readonly url: string;
  readonly bytes: number;
}

/** What the page's player did, as it recorded it. */
export interface Played {
  readonly errors: {
    at: number;
    type: string;
    details: string;
    fatal: boolean;
    message?: string;
    event?: string;
  }[];
  readonly frags: PlayedFragment[];
  /** The video element's `waiting` and `playing` events. */
  readonly media: { type: 'waiting' | 'playing'; at: number; time: number }[];
  /** hls.js BUFFER_STALLED_ERROR events. */
  readonly stalledErrors: number;
  readonly mediaSeconds: number;
  /** When loading was stopped (ms since the epoch); null while it runs. */
  readonly stoppedAt: number | null;
}

/** An origin on the loopback serving the player page and hls.js. */
export function startPlayerPages(): Promise<{ origin: string; close(): Promise<void> }> {
  return startPageOrigin(PAGE);
}

/** One request the page sent to the media server, with the CMCD it carried. */
export interface SentRequest {
  /** Order in which the browser issued it. */
  readonly index: number;
  readonly at: number;
  readonly url: string;
  readonly kind: 'segment' | 'playlist' | 'other';
  /** The CMCD query, decoded; undefined when the request carried none. */
  readonly cmcd: Readonly<Record<string, string | number | true>> | undefined;
  status?: number;
  /** Body bytes the browser received, once the request finished. */
  bodyBytes?: number;
  /** Content-Length the server answered with. */
  contentLength?: number;
  failure?: string;
}

/**
 * Decodes a CMCD query value (CTA-5004 section 3: comma-separated keys, `key=value`, a key alone
 * for true, strings in double quotes). Written here rather than taken from the server's decoder,
 * so the test does not check the server against itself.
 */
export function decodeCmcd(value: string): Record<string, string | number | true> {
  const out: Record<string, string | number | true> = {};
  for (const pair of value.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
    const eq = pair.indexOf('=');
    if (eq < 0) {
      out[pair.trim()] = true;
      continue;
    }
    const key = pair.slice(0, eq).trim();
    const raw = pair.slice(eq + 1).trim();
    out[key] = raw.startsWith('"') ? raw.slice(1, -1) : Number(raw);
  }
  return out;
}

function kindOf(url: URL): SentRequest['kind'] {
  if (url.pathname.endsWith('.m3u8')) return 'playlist';
  if (url.pathname.endsWith('.ts') || url.pathname.endsWith('.m4s')) return 'segment';
  return 'other';
}

/**
 * Records every request `page` sends to `serverUrl`, in the order the browser issues them, with
 * its CMCD, its status and the body bytes the browser received (or why it failed).
 */
export function recordRequests(page: Page, serverUrl: string): SentRequest[] {
  const sent: SentRequest[] = [];
  const byRequest = new Map<Request, SentRequest>();
  page.on('request', (request) => {
    if (!request.url().startsWith(serverUrl)) return;
    const url = new URL(request.url());
    const query = url.searchParams.get('CMCD');
    const entry: SentRequest = {
      index: sent.length,
      at: Date.now(),
      url: request.url(),
      kind: kindOf(url),
      cmcd: query === null ? undefined : decodeCmcd(query),
    };
    sent.push(entry);
    byRequest.set(request, entry);
  });
  page.on('requestfinished', async (request) => {
    const entry = byRequest.get(request);
    if (!entry) return;
    const response = await request.response();
    entry.status = response?.status();
    const length = response?.headers()['content-length'];
    if (length !== undefined) entry.contentLength = Number(length);
    entry.bodyBytes = (await request.sizes()).responseBodySize;
  });
  page.on('requestfailed', (request) => {
    const entry = byRequest.get(request);
    if (entry) entry.failure = request.failure()?.errorText ?? 'failed';
  });
  return sent;
}

/**
 * Opens the player on `src` in a context of its own (so the network conditions of one page never
 * reach another), with the browser's cache off so that every segment it plays is one the server
 * sent. Returns the page, its recorded requests, what its player recorded and a way to shape its
 * network with the DevTools Protocol (emulation inside the browser: the server still sends at
 * loopback speed, the player receives at the emulated one).
 */
export async function openPlayer(
  context: BrowserContext,
  origin: string,
  serverUrl: string,
  options: { src: string; sessionId?: string; contentId?: string },
) {
  const page = await context.newPage();
  const requests = recordRequests(page, serverUrl);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const query = new URLSearchParams({ src: options.src });
  if (options.sessionId) query.set('sid', options.sessionId);
  if (options.contentId) query.set('cid', options.contentId);
  await page.goto(`${origin}/?${query}`);
  return {
    page,
    requests,
    played: () => page.evaluate(() => (window as any).played as Played),
    /** DevTools network emulation; `bytesPerSec` undefined lifts the throttle. */
    async throttle(bytesPerSec: number | undefined, latencyMs = 40) {
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: bytesPerSec === undefined ? 0 : latencyMs,
        downloadThroughput: bytesPerSec ?? -1,
        uploadThroughput: -1,
      });
    },
  };
}

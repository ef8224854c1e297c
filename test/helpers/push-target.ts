import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { listenOnLoopback } from './http.js';

export interface PushRequest {
  readonly method: string;
  /** Path without the query. */
  readonly path: string;
  readonly query: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** What the target held (path → bytes) when this request arrived, before it was applied. */
  readonly heldBefore: ReadonlySet<string>;
}

export interface PushTargetServer {
  readonly url: string;
  /** Every request, in arrival order. */
  readonly requests: PushRequest[];
  /** What the target holds now: path → body. */
  readonly files: Map<string, Buffer>;
  /** Status to answer every request with instead of storing it (undefined: store and 201/204). */
  failWith: number | undefined;
  /** How long to wait before answering a request (uploads landing out of order, say). */
  delayMs: (method: string, path: string) => number;
  close(): Promise<void>;
}

/**
 * A loopback HTTP file store taking PUT and DELETE as a push CDN does, recording each request
 * with what it held when the request arrived (so tests can check what a playlist could name).
 * `failWith` makes it answer errors, as a target in trouble does.
 */
export async function startPushTarget(): Promise<PushTargetServer> {
  const requests: PushRequest[] = [];
  const files = new Map<string, Buffer>();
  const state: Pick<PushTargetServer, 'failWith' | 'delayMs'> = {
    failWith: undefined,
    delayMs: () => 0,
  };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://target');
    const path = decodeURIComponent(url.pathname);
    const delay = state.delayMs(req.method ?? '', path);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    requests.push({
      method: req.method ?? '',
      path,
      query: url.search,
      headers: req.headers,
      body: Buffer.concat(chunks),
      heldBefore: new Set(files.keys()),
    });
    if (state.failWith !== undefined) {
      res.statusCode = state.failWith;
    } else if (req.method === 'PUT') {
      files.set(path, Buffer.concat(chunks));
      res.statusCode = 201;
    } else if (req.method === 'DELETE') {
      res.statusCode = files.delete(path) ? 204 : 404;
    } else {
      const body = files.get(path);
      res.statusCode = body ? 200 : 404;
      if (body) return void res.end(body);
    }
    res.end();
  });
  const { url, close } = await listenOnLoopback(server);
  return {
    url,
    requests,
    files,
    get failWith() {
      return state.failWith;
    },
    set failWith(status) {
      state.failWith = status;
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(delay) {
      state.delayMs = delay;
    },
    close,
  };
}

import { Agent, type ClientRequest, type IncomingHttpHeaders, request } from 'node:http';

export interface RawPutOptions {
  /** Pieces of the body, written one after another. */
  readonly chunks: Iterable<Uint8Array>;
  /** Pause between pieces (a trickling client); 0 writes as fast as the socket takes them. */
  readonly intervalMs?: number;
  /** Sent as Content-Length; without it the body goes chunked. */
  readonly contentLength?: number;
  readonly headers?: Record<string, string>;
}

export interface RawPutResult {
  /** 0 when the connection failed before any answer. */
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: any;
  /** Body bytes written before the answer came. */
  readonly sentBytes: number;
  /** Milliseconds from the request's start to its answer. */
  readonly answeredAfterMs: number;
  /** Resolves with the milliseconds from the start to the connection's close. */
  readonly closed: Promise<number>;
  /** Closes the connection if the server kept it open. */
  dispose(): void;
}

/**
 * PUTs a body the way a slow or hostile encoder could: piece by piece, optionally paced, on a
 * keep-alive connection (so a close is the server's doing). It stops writing once the server
 * answers, which may be long before the body would have ended.
 */
export function rawPut(url: string, options: RawPutOptions): Promise<RawPutResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const started = performance.now();
  const since = () => Math.round(performance.now() - started);
  const dispose = () => agent.destroy();
  return new Promise((resolve) => {
    let answered = false;
    let sentBytes = 0;
    let resolveClosed: (ms: number) => void = () => {};
    const closed = new Promise<number>((r) => {
      resolveClosed = r;
    });
    const headers: Record<string, string> = { ...options.headers };
    if (options.contentLength !== undefined)
      headers['content-length'] = String(options.contentLength);
    const req = request(url, { method: 'PUT', agent, headers });
    req.on('socket', (socket) =>
      socket.once('close', () => {
        resolveClosed(since());
        agent.destroy();
      }),
    );
    req.on('error', () => {
      // EPIPE or ECONNRESET once the server has cut the body; only fatal with no answer yet.
      if (!answered) {
        answered = true;
        const answeredAfterMs = since();
        resolve({
          status: 0,
          headers: {},
          body: undefined,
          sentBytes,
          answeredAfterMs,
          closed,
          dispose,
        });
      }
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const answeredAfterMs = since();
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (piece: string) => {
        text += piece;
      });
      const done = () => {
        resolve({
          status,
          headers: res.headers,
          body: text ? JSON.parse(text) : undefined,
          sentBytes,
          answeredAfterMs,
          closed,
          dispose,
        });
      };
      res.on('end', done);
      res.on('error', done);
    });
    req.flushHeaders();
    void (async () => {
      for (const chunk of options.chunks) {
        if (answered || req.destroyed) return;
        sentBytes += chunk.byteLength;
        if (!req.write(chunk)) await drained(req);
        if (options.intervalMs) await new Promise((r) => setTimeout(r, options.intervalMs));
      }
      if (!answered && !req.destroyed) req.end();
    })();
  });
}

/** `count` pieces of `size` bytes each, filled with `fill`. */
export function* pieces(count: number, size: number, fill = 0x41): Iterable<Uint8Array> {
  const piece = new Uint8Array(size).fill(fill);
  for (let i = 0; i < count; i++) yield piece;
}

/** Waits until the request takes more body, or is gone. */
function drained(req: ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const go = () => {
      req.off('drain', go);
      req.off('close', go);
      resolve();
    };
    req.on('drain', go);
    req.on('close', go);
  });
}

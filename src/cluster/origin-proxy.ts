import { Agent, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { errorCodeInfo } from '../http/error-codes.js';
import { errorBody } from '../http/error-mapping.js';
import { PROXY_SECRET_HEADER } from './forwarded-for.js';

/** Headers of one connection (RFC 9110 7.6.1), not of the request a proxy passes on. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  // Node answered `100 Continue` already; the body follows as it arrives.
  'expect',
]);

export interface OriginProxyOptions {
  /** Where the primary serves everything (loopback). */
  readonly origin: { readonly host: string; readonly port: number };
  /** The X-Forwarded-* a request from `peer` carries to the primary (forwarded-for.ts). */
  readonly forwarding: (
    headers: IncomingMessage['headers'],
    peer: string,
  ) => Record<string, string>;
  /** The primary's per-boot secret, proving to it that a request comes from a worker. */
  readonly proxySecret: string;
}

/**
 * Passes a request to the primary unchanged and its answer back: method, URL, headers (save the
 * connection's own) and body streamed both ways, with the client's address in X-Forwarded-For
 * and the proxy secret that makes the primary believe it.
 * Node's http client is enough for one loopback hop (a proxy library would add its own header
 * and error conventions to translate), and keep-alive connections to the primary are reused.
 */
export class OriginProxy {
  private readonly agent = new Agent({ keepAlive: true, scheduling: 'lifo' });

  constructor(private readonly options: OriginProxyOptions) {}

  forward(req: IncomingMessage, res: ServerResponse): void {
    const headers: Record<string, string | string[]> = {};
    for (const name in req.headers) {
      const value = req.headers[name];
      if (value === undefined || HOP_BY_HOP.has(name) || name.startsWith('x-forwarded-')) continue;
      if (name === PROXY_SECRET_HEADER) continue;
      headers[name] = value;
    }
    Object.assign(headers, this.options.forwarding(req.headers, req.socket.remoteAddress ?? ''));
    headers[PROXY_SECRET_HEADER] = this.options.proxySecret;
    const upstream = request({
      host: this.options.origin.host,
      port: this.options.origin.port,
      method: req.method,
      path: req.url,
      headers,
      agent: this.agent,
      // The client's Host (or none, which the primary answers as a bad request) goes as it came.
      setHost: false,
    });
    upstream.on('response', (answer) => {
      const raw = answer.rawHeaders;
      const out: string[] = [];
      let close = false;
      for (let i = 0; i < raw.length; i += 2) {
        const name = (raw[i] as string).toLowerCase();
        if (name === 'connection') close ||= /\bclose\b/i.test(raw[i + 1] as string);
        if (!HOP_BY_HOP.has(name)) out.push(raw[i] as string, raw[i + 1] as string);
      }
      // The primary closing the connection (an error it cannot answer further) closes the client's.
      if (close) out.push('Connection', 'close');
      res.writeHead(answer.statusCode ?? 500, answer.statusMessage, out);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (res.headersSent) res.destroy();
      else unavailable(res);
    });
    // A client gone away takes its request to the primary with it (a long poll stops waiting).
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  /** Closes idle connections to the primary. */
  close(): void {
    this.agent.destroy();
  }
}

/**
 * The answer to a request the primary could not take: it is stopping (the workers stop first, so
 * this is the drain), in the JSON error body with the table's status and Retry-After.
 */
export function unavailable(res: ServerResponse): void {
  sendErrorCode(res, 'SHUTTING_DOWN', 'the server is shutting down; retry shortly');
}

/** A JSON error of `code` with its status and Retry-After from the one table (error-codes.ts). */
export function sendErrorCode(res: ServerResponse, code: string, message: string): void {
  const info = errorCodeInfo(code);
  const body = JSON.stringify(errorBody(code, message));
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  };
  if (info?.retry === 'after') headers['retry-after'] = String(info.retryAfterSec ?? 1);
  res.writeHead(info?.status ?? 500, headers);
  res.end(body);
}

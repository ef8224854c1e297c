import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DistributionError } from '../core/errors.js';

/** Bytes set aside for a body while it arrives (the ingest budget's reservation). */
export interface Reservation {
  /** Makes sure `total` bytes are set aside; throws when they do not fit. */
  grow(total: number): void;
  release(): void;
}

/** What the reader needs to know about one push, decided from its URL before a byte is read. */
export interface IngestBodyOptions {
  /** Largest body this request may send; `error` is what to answer beyond it. */
  readonly limitFor: (request: FastifyRequest) => { bytes: number; error: () => Error };
  /** Sets `declared` bytes aside (capped by the limit); throws when the budget is spent. */
  readonly reserve: (request: FastifyRequest, declared: number, cap: number) => Reservation;
  /** Slowest average pace once the grace period is over; 0 turns the check off. */
  readonly minBytesPerSec: number;
  readonly graceMs: number;
}

/** How often an upload's pace is checked. */
const PACE_CHECK_MS = 1000;
/** How long a cut connection stays half-open so the client can read its answer. */
const LINGER_MS = 1000;

export class UploadTooSlowError extends DistributionError {
  constructor(bytesPerSec: number, minBytesPerSec: number, seconds: number) {
    super(
      'UPLOAD_TOO_SLOW',
      `the body arrived at ${(bytesPerSec / 1024).toFixed(2)} KiB/s over ${seconds.toFixed(0)} s, below the minimum of ${(minBytesPerSec / 1024).toFixed(2)} KiB/s`,
      'body',
    );
  }
}

/** The client went away mid-body: nobody reads the answer, but it must not look like a server fault. */
function clientGone(cause: unknown): Error {
  return Object.assign(new Error('the client closed the connection before the body ended'), {
    statusCode: 400,
    cause,
  });
}

/**
 * Reads ingest bodies as they stream in, instead of Fastify's buffering parser: refuses a body
 * over its limit as soon as Content-Length or the running count says so, keeps the bytes inside
 * the ingest budget while they arrive, and cuts an upload slower than the minimum pace (a
 * trickling client would otherwise hold a connection and its buffered bytes for minutes). A
 * body ended early is answered with `connection: close` and its socket destroyed within a
 * second, so no unread remainder keeps the connection.
 */
export function installIngestBody(app: FastifyInstance, options: IngestBodyOptions): void {
  const cut = new WeakSet<IncomingMessage>();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request, payload, done) => {
    readBody(request, payload, options, (error, body) => {
      if (error && !request.raw.complete) cut.add(request.raw);
      done(error ?? null, body);
    });
  });
  // Node closes a `connection: close` socket the moment the answer is flushed; with body bytes
  // still unread, that close is a reset, which can destroy the answer before the client reads
  // it. So half-close only, discard what still arrives, and destroy the socket a moment later.
  app.addHook('onSend', async (request) => {
    const socket = request.raw.socket;
    if (cut.has(request.raw) && socket) socket.destroySoon = () => socket.end();
  });
  app.addHook('onResponse', async (request) => {
    const socket = request.raw.socket;
    if (!cut.has(request.raw) || !socket || socket.destroyed) return;
    request.raw.resume();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once('close', () => clearTimeout(timer));
  });
}

function readBody(
  request: FastifyRequest,
  payload: IncomingMessage,
  options: IngestBodyOptions,
  finish: (error: Error | undefined, body?: Buffer) => void,
): void {
  const limit = options.limitFor(request);
  const header = request.headers['content-length'];
  const declared = header === undefined ? 0 : Number(header);
  let reservation: Reservation;
  try {
    if (declared > limit.bytes) throw limit.error();
    // A declared body cannot grow past its Content-Length: set aside exactly that.
    reservation = options.reserve(request, declared, header === undefined ? limit.bytes : declared);
  } catch (error) {
    finish(error as Error);
    return;
  }

  const chunks: Buffer[] = [];
  let received = 0;
  let settled = false;
  const startedAt = performance.now();
  // Not unref'd: every way out clears it, and one left behind should show, not hide.
  const timer = options.minBytesPerSec > 0 ? setInterval(checkPace, PACE_CHECK_MS) : undefined;

  // Every way out passes here exactly once: the timer, the listeners and the reservation go.
  function settle(error: Error | undefined, body?: Buffer): void {
    if (settled) return;
    settled = true;
    clearInterval(timer);
    payload.off('data', onData);
    payload.off('end', onEnd);
    payload.off('error', onAbort);
    payload.off('close', onAbort);
    reservation.release();
    chunks.length = 0;
    if (error) payload.pause(); // read no more; the answer closes the connection
    finish(error, body);
  }

  function onData(chunk: Buffer): void {
    received += chunk.length;
    try {
      if (received > limit.bytes) throw limit.error();
      reservation.grow(received);
    } catch (error) {
      settle(error as Error);
      return;
    }
    chunks.push(chunk);
  }

  function onEnd(): void {
    // One copy of exactly the body's size, so socket read buffers are not kept alive.
    settle(undefined, Buffer.concat(chunks, received));
  }

  function onAbort(error?: unknown): void {
    settle(clientGone(error));
  }

  function checkPace(): void {
    const seconds = (performance.now() - startedAt) / 1000;
    if (seconds * 1000 < options.graceMs) return;
    const pace = received / seconds;
    if (pace < options.minBytesPerSec)
      settle(new UploadTooSlowError(pace, options.minBytesPerSec, seconds));
  }

  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onAbort);
  payload.on('close', onAbort);
}

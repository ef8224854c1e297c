import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DistributionError } from '../core/errors.js';
import { rfc3339 } from '../core/timestamp.js';
import { ERROR_CODES, type ErrorCode, errorCodeInfo } from './error-codes.js';
import type { ErrorBody } from './error-envelope.js';
import { MAX_PAGE_LIMIT } from './schemas.js';

/** HTTP status of each error code, read from the one table (src/http/error-codes.ts). */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(ERROR_CODES).map(([code, info]) => [code, info.status]),
);

/** Stable names for the body-parsing failures Fastify reports. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
};

/** The code of a framework 4xx this table does not name, by its status. */
const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  404: 'ROUTE_NOT_FOUND',
  408: 'REQUEST_TIMEOUT',
  413: 'BODY_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  431: 'HEADERS_TOO_LARGE',
};

/** What a pattern means, for the fields whose pattern is not the id pattern. */
const PATTERN_MESSAGES: Readonly<Record<string, string>> = {
  wait_ms: 'wait_ms must be a whole number of milliseconds',
  limit: `limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}`,
  cursor: 'cursor must be the next_cursor of a previous page',
};

interface ValidationParams {
  missingProperty?: unknown;
  additionalProperty?: unknown;
  allowedValues?: unknown[];
  tag?: unknown;
}

/** Field a Fastify error is about: the first failing schema path, or the body itself. */
function fieldOf(error: FastifyError): string | undefined {
  const first = error.validation?.[0];
  if (first) {
    const path = first.instancePath.replace(/^\//, '').replaceAll('/', '.');
    const params = first.params as ValidationParams;
    // A field missing or unknown inside an object is named with its parent: source.type.
    const inner = params.missingProperty ?? params.additionalProperty ?? params.tag;
    if (typeof inner === 'string') return path ? `${path}.${inner}` : inner;
    return path || error.validationContext;
  }
  if (error.code?.startsWith('FST_ERR_CTP_')) return 'body';
  return undefined;
}

function messageOf(error: FastifyError, field: string | undefined): string {
  const first = error.validation?.[0];
  if (!first) return error.message;
  const params = first.params as ValidationParams;
  if (first.keyword === 'required') return `${field} is required`;
  if (first.keyword === 'additionalProperties') return `${field} is not a field of this request`;
  if (first.keyword === 'discriminator') return `${field} names no known kind`;
  if (first.keyword === 'enum' && params.allowedValues) {
    return `${field} must be one of ${params.allowedValues.join(', ')}`;
  }
  if (first.keyword === 'pattern') {
    return (
      PATTERN_MESSAGES[field ?? ''] ??
      `${field} must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' or '-', not only dots`
    );
  }
  return `${field} ${first.message ?? 'is invalid'}`;
}

/** Builds the JSON error body every failure shares. */
export function errorBody(code: string, message: string, field?: string): ErrorBody {
  return {
    error: { code, message, ...(field && { field }) },
    message,
    timestamp: rfc3339(Date.now()),
  };
}

/**
 * Sends `code` with its status from the table and the headers its entry calls for: the
 * challenge of a 401, `Retry-After` (unless a limiter set its own) or a one-second cache life.
 */
export function sendError(
  reply: FastifyReply,
  code: string,
  message: string,
  field?: string,
): FastifyReply {
  const info = errorCodeInfo(code);
  if (info?.challenge) reply.header('www-authenticate', info.challenge);
  if (info?.retry === 'after' && !reply.hasHeader('retry-after')) {
    reply.header('retry-after', String(info.retryAfterSec ?? 1));
  }
  if (info?.retry === 'soon') reply.header('cache-control', 'public, max-age=1');
  return reply.code(info?.status ?? 400).send(errorBody(code, message, field));
}

/**
 * Errors the router meets before any route runs (a URL that does not decode, a path parameter
 * longer than any id): the same JSON error body as everything else. The message names the path
 * only: the query may hold a playback token, a session or a publish key, and an error body is no
 * place for them (docs/architecture.md, security rules).
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return sendError(reply, 'URI_TOO_LONG', 'a path segment is longer than any id', 'url');
  }
  return sendError(reply, 'BAD_URL', `the URL does not decode: ${pathOf(request.url)}`, 'url');
}

/** The path of a request target, without its query, at most 200 characters. */
export function pathOf(url: string): string {
  const query = url.indexOf('?');
  return (query === -1 ? url : url.slice(0, query)).slice(0, 200);
}

/** What Node's HTTP parser refuses before Fastify sees a request, as a JSON error body. */
const CLIENT_ERRORS: Readonly<Record<string, [ErrorCode, string]>> = {
  ERR_HTTP_REQUEST_TIMEOUT: ['REQUEST_TIMEOUT', 'the request did not arrive in time'],
  HPE_HEADER_OVERFLOW: ['HEADERS_TOO_LARGE', 'the request headers are too large'],
  HPE_INVALID_EOF_STATE: [
    'BAD_REQUEST',
    'the connection ended before the body its Content-Length announced',
  ],
};

/**
 * Node counts the request line into its header limit: an overflow whose packet starts with a
 * request line that has not ended within the limit is a URL too long (414), not headers (431).
 */
function requestLineTooLong(error: Error & { rawPacket?: unknown }): boolean {
  const packet = error.rawPacket;
  if (!Buffer.isBuffer(packet) || !/^[A-Z]+ \S/.test(packet.subarray(0, 16).toString('latin1'))) {
    return false;
  }
  const end = packet.indexOf('\r\n');
  return end === -1 || end >= maxHeaderSize;
}

/** Answers a request Node's parser refused (bad method, bad bytes, too slow) and closes it. */
export function clientErrorHandler(
  error: Error & { code?: string; rawPacket?: unknown },
  socket: Duplex,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  let [code, message] = CLIENT_ERRORS[error.code ?? ''] ?? [
    'BAD_REQUEST',
    'the request is not valid HTTP',
  ];
  if (error.code === 'HPE_HEADER_OVERFLOW' && requestLineTooLong(error)) {
    [code, message] = ['URI_TOO_LONG', 'the URL is longer than the server reads'];
  }
  const status = ERROR_CODES[code].status;
  const body = JSON.stringify(errorBody(code, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Maps every error to a JSON body and a 4xx/5xx; only server faults become 500. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const domain: unknown = error;
    if (domain instanceof DistributionError) {
      return sendError(reply, domain.code, domain.message, domain.field);
    }
    const status = error.statusCode ?? 500;
    if (error.validation) {
      const field = fieldOf(error);
      return sendError(reply, 'INVALID_REQUEST', messageOf(error, field), field);
    }
    if (status >= 400 && status < 500) {
      const code = FASTIFY_CODES[error.code] ?? CODE_BY_STATUS[status] ?? 'BAD_REQUEST';
      const field = fieldOf(error);
      return sendError(reply, code, messageOf(error, field), field);
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendError(reply, 'INTERNAL', 'internal server error');
  });
}

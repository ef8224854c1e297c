import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DistributionError } from '../core/errors.js';
import { rfc3339 } from './responses.js';
import { MAX_PAGE_LIMIT } from './schemas.js';

/** HTTP status of each error code; the one place codes meet statuses (README: Error codes). */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  STREAM_NOT_FOUND: 404,
  VIEWER_NOT_FOUND: 404,
  SEGMENT_NOT_FOUND: 404,
  DELIVERY_NOT_FOUND: 404,
  STREAM_EXISTS: 409,
  VIEWER_EXISTS: 409,
  SEGMENT_EXISTS: 409,
  SEGMENT_OUT_OF_ORDER: 409,
  STREAM_ENDED: 409,
  VIEWER_BACKLOG_FULL: 409,
  STREAM_FULL: 503,
  PROFILE_FULL: 503,
  QUEUE_FULL: 503,
  SHUTTING_DOWN: 503,
  INVALID_BUFFER_HEALTH: 400,
  INVALID_INGEST: 400,
  BODY_TOO_LARGE: 413,
  UPLOAD_TOO_SLOW: 408,
  INIT_SECTIONS_FULL: 409,
  SEGMENT_REFUSED: 409,
  STREAM_BUDGET_EXCEEDED: 413,
  INGEST_BUDGET_EXCEEDED: 503,
  NO_MEDIA_YET: 404,
  PUBLISH_KEY_REQUIRED: 401,
  PUBLISH_KEY_INVALID: 403,
  ADMIN_TOKEN_REQUIRED: 401,
  ADMIN_TOKEN_INVALID: 403,
  ENCODER_NOT_FOUND: 404,
  ENCODER_EXISTS: 409,
  INVALID_SOURCE: 400,
  NOT_LISTENING: 503,
  VIEWER_AUTH_REQUIRED: 401,
  VIEWER_FORBIDDEN: 403,
  PLAYBACK_TOKEN_REQUIRED: 401,
  PLAYBACK_TOKEN_INVALID: 403,
  TOO_MANY_ANONYMOUS_SESSIONS: 429,
  ANONYMOUS_BACKLOG_FULL: 503,
  RATE_LIMITED: 429,
  TOO_MANY_STREAMS: 503,
  SEGMENTS_WAITING_FULL: 409,
  // Requests Fastify refuses, or no route serves.
  INVALID_REQUEST: 400,
  INVALID_JSON: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  ROUTE_NOT_FOUND: 404,
  INTERNAL: 500,
  // Refused before any route runs: by the router, or by Node's HTTP parser.
  BAD_URL: 400,
  URI_TOO_LONG: 414,
  BAD_REQUEST: 400,
  REQUEST_TIMEOUT: 408,
  HEADERS_TOO_LARGE: 431,
};

/** 401s that a bearer token answers: they name the scheme (RFC 9110 section 11.6.1). */
const BEARER_CHALLENGE = new Set([
  'ADMIN_TOKEN_REQUIRED',
  'VIEWER_AUTH_REQUIRED',
  'PUBLISH_KEY_REQUIRED',
]);

/** Media that is not there yet may be soon: players and CDNs should ask again in a second. */
const RETRY_SOON = new Set(['SEGMENT_NOT_FOUND', 'NO_MEDIA_YET']);

/** Stable names for the body-parsing failures Fastify reports. */
const FASTIFY_CODES: Readonly<Record<string, string>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
};

/** What a pattern means, for the fields whose pattern is not the id pattern. */
const PATTERN_MESSAGES: Readonly<Record<string, string>> = {
  wait_ms: 'wait_ms must be a whole number of milliseconds',
  limit: `limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}`,
  cursor: 'cursor must be the next_cursor of a previous page',
};

/** Field a Fastify error is about: the first failing schema path, or the body itself. */
function fieldOf(error: FastifyError): string | undefined {
  const first = error.validation?.[0];
  if (first) {
    const path = first.instancePath.replace(/^\//, '').replaceAll('/', '.');
    const missing = (first.params as { missingProperty?: unknown }).missingProperty;
    // A field missing inside an object is named with its parent: source.type, not type.
    if (typeof missing === 'string') return path ? `${path}.${missing}` : missing;
    return path || error.validationContext;
  }
  if (error.code?.startsWith('FST_ERR_CTP_')) return 'body';
  return undefined;
}

function messageOf(error: FastifyError, field: string | undefined): string {
  const first = error.validation?.[0];
  if (!first) return error.message;
  if (first.keyword === 'required') return `${field} is required`;
  const allowed = (first.params as { allowedValues?: unknown[] }).allowedValues;
  if (first.keyword === 'enum' && allowed) return `${field} must be one of ${allowed.join(', ')}`;
  if (first.keyword === 'pattern') {
    return (
      PATTERN_MESSAGES[field ?? ''] ??
      `${field} must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' or '-', not only dots`
    );
  }
  return `${field} ${first.message ?? 'is invalid'}`;
}

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
  message: string;
  timestamp: string;
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
 * Errors the router meets before any route runs (a URL that does not decode, a path parameter
 * longer than any id): the same JSON error body as everything else.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
  return reply
    .code(tooLong ? 414 : 400)
    .send(
      errorBody(
        tooLong ? 'URI_TOO_LONG' : 'BAD_URL',
        tooLong
          ? 'a path segment is longer than any id'
          : `the URL does not decode: ${request.url.slice(0, 200)}`,
        'url',
      ),
    );
}

/** What Node's HTTP parser refuses before Fastify sees a request, as a JSON error body. */
const CLIENT_ERRORS: Readonly<Record<string, [string, string]>> = {
  ERR_HTTP_REQUEST_TIMEOUT: ['REQUEST_TIMEOUT', 'the request did not arrive in time'],
  HPE_HEADER_OVERFLOW: ['HEADERS_TOO_LARGE', 'the request headers are too large'],
};

/** Answers a request Node's parser refused (bad method, bad bytes, too slow) and closes it. */
export function clientErrorHandler(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, message] = CLIENT_ERRORS[error.code ?? ''] ?? [
    'BAD_REQUEST',
    'the request is not valid HTTP',
  ];
  const status = STATUS_BY_CODE[code] ?? 400;
  const body = JSON.stringify(errorBody(code, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Maps every error to a JSON body and a 4xx/5xx; only server faults become 500. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const domain: unknown = error;
    if (domain instanceof DistributionError) {
      const status = STATUS_BY_CODE[domain.code] ?? 400;
      if ((status === 503 || status === 429) && !reply.hasHeader('retry-after')) {
        reply.header('retry-after', status === 503 ? '1' : '5');
      }
      if (BEARER_CHALLENGE.has(domain.code)) reply.header('www-authenticate', 'Bearer');
      if (RETRY_SOON.has(domain.code)) reply.header('cache-control', 'public, max-age=1');
      return reply.code(status).send(errorBody(domain.code, domain.message, domain.field));
    }
    const status = error.statusCode ?? 500;
    if (error.validation || (status >= 400 && status < 500)) {
      const field = fieldOf(error);
      const code = error.validation
        ? 'INVALID_REQUEST'
        : (FASTIFY_CODES[error.code] ?? 'BAD_REQUEST');
      return reply
        .code(error.validation ? 400 : status)
        .send(errorBody(code, messageOf(error, field), field));
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send(errorBody('INTERNAL', 'internal server error'));
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(
        errorBody('ROUTE_NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`),
      ),
  );
}

import {
  type FastifyBaseLogger,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { redactSecrets } from '../service/redact.js';

/**
 * Fastify's own log lines, reshaped for a live origin: one debug line per request when it is
 * answered (method, redacted URL, status, milliseconds) instead of two info lines, since an
 * encoder alone makes eight requests a second per stream and players poll all the time. What
 * an operator must see (a server fault with its stack, an event of a stream) is logged where
 * it happens; requests stay out of the default info level. The known secrets (publish key,
 * admin token) are masked by the logger itself (log-redaction.ts); URL parameters here too.
 */
export class RequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (!debugEnabled(reply.log)) return;
    const line = {
      method: request.method,
      url: redactSecrets(request.url),
      statusCode: reply.statusCode,
      responseTime: Math.round(reply.elapsedTime * 100) / 100,
    };
    // An error here is the connection's (a player that went away mid-segment), not the server's.
    if (error) reply.log.debug({ ...line, err: error }, 'request failed');
    else reply.log.debug(line, 'request');
  }

  override routeNotFound(): void {}

  override defaultErrorLog(error: Error, _request: FastifyRequest, reply: FastifyReply): void {
    if (reply.statusCode >= 500) reply.log.error({ err: error }, error.message);
    else reply.log.debug({ err: error }, error.message);
  }

  override streamError(
    error: Error & { code?: string },
    _request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error.code === 'ERR_STREAM_PREMATURE_CLOSE')
      reply.log.debug({ err: error }, 'stream closed prematurely');
    else reply.log.warn({ err: error }, 'response failed after its headers were sent');
  }

  override serviceUnavailable(logger: FastifyBaseLogger): void {
    logger.debug('request refused: the server is closing');
  }
}

/** Skips building a line nobody will write (pino loggers can tell; others are asked anyway). */
function debugEnabled(log: FastifyBaseLogger): boolean {
  const { isLevelEnabled } = log as { isLevelEnabled?: (level: string) => boolean };
  return isLevelEnabled ? isLevelEnabled.call(log, 'debug') : true;
}

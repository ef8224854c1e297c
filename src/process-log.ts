import type { FastifyBaseLogger } from 'fastify';

/**
 * Sends what Node itself would print on stderr into the JSON log, so a log pipeline never meets
 * a line it cannot parse: process warnings (deprecations, listener leaks, experimental
 * features; a dependency can raise one at any time) become warn lines, and a crash becomes a
 * fatal line before the process exits 1, as it would have anyway. For the `serve` process only:
 * it replaces Node's own printer, which is the process owner's call.
 */
export function logProcessOutput(log: FastifyBaseLogger): void {
  // Node prints warnings through its own 'warning' listener; with it gone, this one is the only.
  process.removeAllListeners('warning');
  process.on('warning', (warning) =>
    log.warn({ err: warning }, `process warning: ${warning.name}`),
  );
  const crash = (error: unknown, origin: string) => {
    log.fatal({ err: error, origin }, 'the process crashed');
    process.exit(1);
  };
  process.on('uncaughtException', (error, origin) => crash(error, origin));
}

/**
 * Defaults of the HTTP front (the settings table in src/config.ts reads them). A module of its
 * own, importing nothing, so the error-code table can quote the body limit without a cycle
 * through app.ts.
 */
export const HTTP_DEFAULTS = {
  longPollMs: 2000,
  maxLongPollMs: 30_000,
  bodyLimitBytes: 64 * 1024,
  apiRateLimit: 1200,
  joinRateLimit: 60,
  requestTimeoutMs: 60_000,
  headersTimeoutMs: 10_000,
  corsOrigins: '*',
  apiCorsOrigins: '',
} as const;

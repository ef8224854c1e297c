/** What a masked secret reads as in logs and statuses. */
export const REDACTED = '[REDACTED]';

/** Shorter known secrets are not masked: they would blot out ordinary words (beyond loopback secrets are longer). */
const MIN_MASKED_SECRET = 6;

// `scheme://user:pass@host`: everything between `//` and the last `@` before the path.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*(?:@[^\s/?#@]*)*@/gi;
// Query parameters that carry a publish key, a playback token or a viewer session.
const SECRET_PARAMETERS = /([?&;](?:key|token|session)=)[^&#\s"'<>]*/gi;
const BEARER = /(\bbearer +)[^\s"',;]+/gi;
// A CMCD session id (`sid="…"`, percent-encoded inside a CMCD query): players send their session.
const CMCD_SESSION = /((?:^|[,=\s]|%2C|%3D)sid(?:=|%3D)(?:"|%22))[^"%&\s]*/gi;

/**
 * Masks secrets in a URL or any text: URL credentials (`scheme://***@host`), the values of
 * `key`, `token` and `session` query parameters, bearer tokens, CMCD session ids, and every occurrence of the
 * `known` secrets (the publish key, the admin token, an encoder's ingest token).
 */
export function redactSecrets(text: string, known: readonly (string | undefined)[] = []): string {
  let out = text;
  const secrets = known
    .filter((s): s is string => s !== undefined && s.length >= MIN_MASKED_SECRET)
    .sort((a, b) => b.length - a.length);
  for (const secret of secrets) {
    out = out.replaceAll(secret, REDACTED);
    // ffmpeg and URLs print a secret percent-encoded as often as raw.
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.replaceAll(encoded, REDACTED);
  }
  return out
    .replace(URL_CREDENTIALS, '$1***@')
    .replace(SECRET_PARAMETERS, `$1${REDACTED}`)
    .replace(BEARER, `$1${REDACTED}`)
    .replace(CMCD_SESSION, `$1${REDACTED}`);
}

/** A copy of `detail` with every string value (nested in arrays and objects too) redacted. */
export function redactDetail(
  detail: Readonly<Record<string, unknown>>,
  known: readonly (string | undefined)[] = [],
): Record<string, unknown> {
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return redactSecrets(value, known);
    if (Array.isArray(value)) return value.map(walk);
    if (value instanceof Error) return redactSecrets(value.message, known);
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  return walk(detail) as Record<string, unknown>;
}

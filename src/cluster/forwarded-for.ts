import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, Server } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

/** The loopback address a worker reaches the primary from, and the primary trusts as a proxy. */
export const INTERNAL_HOST = '127.0.0.1';

/**
 * The header a worker proves with that a request it passes on is its own: a secret drawn anew at
 * every start of the primary, known to it and its workers only (given over IPC, never in argv,
 * the environment or a log). The primary removes it from every request before anything reads it.
 */
export const PROXY_SECRET_HEADER = 'x-vtp-proxy-secret';

/** A new per-boot proxy secret: 256 random bits. */
export function newProxySecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The primary's `--trust-proxy` in a cluster: its workers (on loopback) are its proxy, besides
 * whatever proxies the operator named, so it takes each client's address from the
 * `X-Forwarded-For` a worker sets (forwardedHeaders) and its limits stay per client. Only with
 * guardForwarding installed: any local process can reach loopback.
 */
export function primaryTrustProxy(operator: string | undefined): string {
  if (operator === 'true') return 'true';
  if (operator === undefined || operator === 'false' || operator.trim() === '')
    return INTERNAL_HOST;
  return `${operator},${INTERNAL_HOST}`;
}

const FORWARDING = ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto'] as const;

/**
 * The forwarding headers a worker passes to the primary for a request from `peer`: what a peer
 * the operator trusts (`--trust-proxy`, compiled by the library Fastify uses) said, with the peer
 * added to `X-Forwarded-For`; from anyone else only the peer itself. The primary trusts its
 * workers, so a client's own X-Forwarded-* must never pass through untrusted.
 */
export function forwardingHeaders(
  operator: string | undefined,
): (headers: IncomingHttpHeaders, peer: string) => Record<string, string> {
  const trusts =
    operator === undefined || operator === 'false'
      ? () => false
      : operator === 'true'
        ? () => true
        : proxyAddr.compile(operator.split(',').map((entry) => entry.trim()));
  return (headers, peer) => {
    if (!trusts(peer, 0)) return { 'x-forwarded-for': peer };
    const forwarded: Record<string, string> = {};
    for (const name of FORWARDING) {
      const value = headers[name];
      if (value !== undefined) forwarded[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const prior = forwarded['x-forwarded-for'];
    forwarded['x-forwarded-for'] = prior ? `${prior}, ${peer}` : peer;
    return forwarded;
  };
}

/**
 * Makes the primary's listener take X-Forwarded-* only from its workers: a request must carry
 * PROXY_SECRET_HEADER with `secret` (compared in constant time) or its X-Forwarded-* headers are
 * dropped, so another local process reaching the loopback port cannot pose as any client. The
 * secret header is dropped from every request. Runs before Fastify's own request listener, so
 * the client address, rate limits and logs never see what was dropped.
 */
export function guardForwarding(server: Server, secret: string): void {
  const expected = digest(secret);
  server.prependListener('request', (req: IncomingMessage) => {
    const given = req.headers[PROXY_SECRET_HEADER];
    delete req.headers[PROXY_SECRET_HEADER];
    if (typeof given === 'string' && timingSafeEqual(digest(given), expected)) return;
    for (const name of Object.keys(req.headers)) {
      if (name.startsWith('x-forwarded-')) delete req.headers[name];
    }
  });
}

/** Equal-length digests, so the comparison takes as long whatever a client sent. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

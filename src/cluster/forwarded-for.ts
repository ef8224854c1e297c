import type { IncomingHttpHeaders } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

/** The loopback address a worker reaches the primary from, and the primary trusts as a proxy. */
export const INTERNAL_HOST = '127.0.0.1';

/**
 * The primary's `--trust-proxy` in a cluster: its workers (on loopback) are its proxy, besides
 * whatever proxies the operator named, so it takes each client's address from the
 * `X-Forwarded-For` a worker sets (forwardedHeaders) and its limits stay per client.
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

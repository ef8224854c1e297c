import { REDACTED, redactSecrets } from './redact.js';

/**
 * One push CDN target (`--cdn-push-targets`): a static file server that takes objects by HTTP
 * PUT and DELETE under its base URL, the layout mirroring the origin's (`/live/{id}/…`).
 */
export interface PushTarget {
  /** The URL as logs, metrics and statuses show it: credentials and query values masked. */
  readonly label: string;
  /** Base URL without credentials or query; objects go under it. */
  readonly base: string;
  /** The query the URL carried (a token, a signature), kept on every object URL; '' when none. */
  readonly query: string;
  /** `Basic …` from the URL's user:password, which fetch refuses to send itself. */
  readonly authorization: string | undefined;
  /** Every secret the URL carries, to mask wherever a message might echo one. */
  readonly secrets: readonly string[];
}

/** A bad `--cdn-push-targets` value; its message never repeats a secret. */
export class PushTargetError extends Error {}

/**
 * Parses a comma-separated list of http(s) target URLs. Userinfo becomes Basic authorization;
 * a query (a token) rides on every object URL. Refuses an empty list or entry, other schemes, a
 * fragment, and two targets that read alike once masked (their metrics would be one series).
 */
export function parsePushTargets(raw: string): PushTarget[] {
  const entries = raw.split(',').map((entry) => entry.trim());
  if (entries.some((entry) => entry === '')) {
    throw new PushTargetError('lists an empty target (targets are comma-separated URLs)');
  }
  const targets = entries.map((entry, i) => parsePushTarget(entry, i + 1));
  const labels = new Set<string>();
  for (const target of targets) {
    if (labels.has(target.label)) throw new PushTargetError(`lists ${target.label} twice`);
    labels.add(target.label);
  }
  return targets;
}

function parsePushTarget(entry: string, position: number): PushTarget {
  const url = URL.canParse(entry) ? new URL(entry) : undefined;
  // Not echoed: where a string is no URL, nothing says which part of it is a secret.
  if (!url) throw new PushTargetError(`target ${position} is not a valid URL`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    // Only the scheme: the rest of an unknown kind of URL may be anything, a secret included.
    throw new PushTargetError(
      `target ${position} must be an http:// or https:// URL, not ${url.protocol}`,
    );
  }
  const shown = labelOf(url);
  if (url.hash !== '') throw new PushTargetError(`${shown} must not carry a #fragment`);
  const username = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const secrets = [username, password, ...url.searchParams.values()].filter((s) => s !== '');
  return {
    label: shown,
    base: `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`,
    query: url.search,
    authorization:
      username || password
        ? `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`
        : undefined,
    secrets,
  };
}

/** `scheme://***@host/path?name=[REDACTED]`: where it pushes, without what opens it. */
function labelOf(url: URL): string {
  const userinfo = url.username || url.password ? '***@' : '';
  const names = [...url.searchParams.keys()];
  const query = names.length ? `?${names.map((n) => `${n}=${REDACTED}`).join('&')}` : '';
  return `${url.protocol}//${userinfo}${url.host}${url.pathname.replace(/\/+$/, '')}${query}`;
}

/** One object as it goes to a target. */
export interface PushObject {
  /** Path under the target's base, e.g. `live/lecture/Low/index.m3u8` (components URL-safe). */
  readonly path: string;
  readonly body: Uint8Array | string;
  readonly contentType: string;
  /** What the target should serve it with (a push CDN that keeps headers does). */
  readonly cacheControl: string;
}

/** Sends objects to targets; throws (with a masked message) on failure so the pool retries. */
export interface PushTransport {
  put(target: PushTarget, object: PushObject, signal: AbortSignal): Promise<void>;
  /** Removes an object; one already gone counts as removed. */
  delete(target: PushTarget, path: string, signal: AbortSignal): Promise<void>;
}

/** The object path of `parts` (recording id, profile, file name), each component encoded. */
export function objectPath(...parts: string[]): string {
  return parts.map(encodeURIComponent).join('/');
}

/** PUT and DELETE with fetch, the way WebDAV servers and push CDNs take objects. */
export const fetchTransport: PushTransport = {
  async put(target, object, signal) {
    await send(target, 'PUT', object.path, signal, object.body, {
      'content-type': object.contentType,
      'cache-control': object.cacheControl,
    });
  },
  async delete(target, path, signal) {
    await send(target, 'DELETE', path, signal);
  },
};

async function send(
  target: PushTarget,
  method: 'PUT' | 'DELETE',
  path: string,
  signal: AbortSignal,
  body?: Uint8Array | string,
  headers: Record<string, string> = {},
): Promise<void> {
  const url = `${target.base}/${path}${target.query}`;
  const what = `${method} /${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      // Segment bytes always sit in a plain ArrayBuffer (never a SharedArrayBuffer).
      ...(body !== undefined && { body: body as Uint8Array<ArrayBuffer> | string }),
      headers: {
        ...headers,
        ...(target.authorization && { authorization: target.authorization }),
      },
      signal,
    });
  } catch (error) {
    throw new Error(redactSecrets(`${what}: ${reason(error)}`, target.secrets));
  }
  await response.body?.cancel();
  if (response.ok || (method === 'DELETE' && response.status === 404)) return;
  throw new Error(`${what} answered ${response.status}`);
}

/** What went wrong under fetch's bare "fetch failed": the socket's error (ECONNREFUSED, …). */
function reason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  return cause instanceof Error ? cause.message : error.message;
}

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRuntime, type Runtime, type RuntimeOptions } from '../../src/server.js';
import type { DistributionServiceOptions } from '../../src/service/distribution-service.js';

export interface TestServer extends Omit<Runtime, 'close'> {
  readonly url: string;
  close(): Promise<boolean>;
}

/**
 * The real app on an ephemeral loopback port. Every request of a test comes from 127.0.0.1, so
 * the per-client rate limits are off unless `extra.http` sets them (the security tests do).
 */
export async function startTestServer(
  service: DistributionServiceOptions = {},
  longPollMs = 200,
  extra: Omit<RuntimeOptions, 'service' | 'longPollMs'> = {},
): Promise<TestServer> {
  const runtime = createRuntime({
    service,
    longPollMs,
    ...extra,
    http: { apiRateLimit: 0, joinRateLimit: 0, ...extra.http },
  });
  const url = await runtime.listen('127.0.0.1', 0);
  return { ...runtime, url, close: () => runtime.close(1000) };
}

/** Sends JSON (or a raw string) and returns status and parsed body. */
export async function call(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const response = await fetch(url, init);
  const text = await response.text();
  return {
    status: response.status,
    body: text ? JSON.parse(text) : undefined,
    headers: response.headers,
  };
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly bytes: number;
}

/** A loopback HTTP server standing in for a push CDN; `respond` decides each answer. */
export async function startFakeCdn(
  respond: (request: RecordedRequest, index: number) => number | Promise<number> = () => 201,
): Promise<{ url: string; requests: RecordedRequest[]; close(): Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    let bytes = 0;
    for await (const chunk of req) bytes += (chunk as Buffer).length;
    const recorded = { method: req.method ?? '', url: req.url ?? '', bytes };
    const index = requests.push(recorded) - 1;
    res.statusCode = await respond(recorded, index);
    res.end();
  });
  return { ...(await listenOnLoopback(server)), requests };
}

/** Listens on an ephemeral loopback port; `close` drops open connections and waits for it. */
export async function listenOnLoopback(
  server: Server,
): Promise<{ url: string; close(): Promise<void> }> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

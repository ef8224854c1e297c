import Fastify from 'fastify';
import { installCors, parseOrigins } from '../http/cors.js';

/** The CORS a worker adds to the HLS responses it serves itself. */
export interface HlsCors {
  /** Headers every HLS response carries (flat name, value list), `Vary` apart. */
  readonly headers: readonly string[];
  /** `Vary` they carry for CORS (`Origin` with an origin list), to which playlists add theirs. */
  readonly vary: string | undefined;
  /**
   * Whether a request with an Origin must go to the primary: with an origin list the answer
   * depends on the origin, and cors.ts (through @fastify/cors) is where that rule lives.
   */
  readonly originDecides: boolean;
}

/**
 * The CORS headers the primary's HLS routes send, read once at start from the very code that
 * sends them (cors.ts on a Fastify app of its own, asked once without an Origin), so a worker
 * never keeps a second copy of those rules.
 */
export async function hlsCors(corsOrigins: string): Promise<HlsCors> {
  const hls = parseOrigins(corsOrigins);
  const app = Fastify({ logger: false });
  installCors(app, { hls, api: false });
  app.get('/live/:recording_id/:profile/:file', async () => '');
  const answer = await app.inject({ method: 'GET', url: '/live/a/b/c' });
  await app.close();
  const headers: string[] = [];
  let vary: string | undefined;
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : String(value);
    if (name === 'vary') vary = text;
    else if (name.startsWith('access-control-')) headers.push(name, text);
  }
  return { headers, vary, originDecides: Array.isArray(hls) };
}

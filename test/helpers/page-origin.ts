import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

const require = createRequire(import.meta.url);
const HLS_JS = readFileSync(require.resolve('hls.js/dist/hls.min.js'));

/**
 * A page that plays with hls.js from this origin: a muted `video` (as `video` in `script`),
 * hls.js loaded, then `script`, which makes the player and records what the test reads.
 */
export function playerPage(script: string): string {
  return `<!doctype html>
<html><body>
<video id="video" muted playsinline></video>
<script src="/hls.min.js"></script>
<script>
  const video = document.getElementById('video');
${script}</script>
</body></html>`;
}

/**
 * A second origin on the loopback (another port, as a learning platform's would be) serving one
 * HTML page at `/` and hls.js from the package at `/hls.min.js`.
 */
export async function startPageOrigin(
  page: string,
): Promise<{ origin: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/hls.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(HLS_JS);
    } else if (path === '/favicon.ico') {
      res.writeHead(204).end();
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    } else {
      res.writeHead(404).end();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import { tagged } from '../operation-docs.js';
import { noBody, text } from '../response-schemas.js';

const require = createRequire(import.meta.url);
// Three levels up from src/http/routes (or dist/http/routes) is the package root.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WEB = path.join(ROOT, 'src', 'web');

interface Asset {
  readonly file: string;
  readonly type: string;
}

/** Every file the web pages may load, by name: no path from a request reaches the filesystem. */
const ASSETS: Readonly<Record<string, Asset>> = {
  'style.css': { file: path.join(WEB, 'style.css'), type: 'text/css; charset=utf-8' },
  'watch.js': { file: path.join(WEB, 'watch.js'), type: 'text/javascript; charset=utf-8' },
  'dashboard.js': { file: path.join(WEB, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  'hls.min.js': {
    file: require.resolve('hls.js/dist/hls.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  'uPlot.iife.min.js': {
    file: require.resolve('uplot/dist/uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  'uPlot.min.css': {
    file: require.resolve('uplot/dist/uPlot.min.css'),
    type: 'text/css; charset=utf-8',
  },
};

/** The player page (/watch/{recording_id}) and the live dashboard, with their assets. */
export const webRoutes: FastifyPluginAsync = async (app) => {
  // Read once at start-up: pages and libraries are served from memory.
  const assets = new Map(
    Object.entries(ASSETS).map(([name, a]) => [name, { body: readFileSync(a.file), type: a.type }]),
  );
  const watch = readFileSync(path.join(WEB, 'watch.html'));
  const dashboard = readFileSync(path.join(WEB, 'dashboard.html'));
  const html = 'text/html; charset=utf-8';

  const page = (summary: string) => ({
    schema: {
      summary,
      tags: tagged('pages'),
      response: { 200: text('the page', 'text/html') },
    },
  });
  app.get('/watch/:recording_id', page('Player page'), async (_request, reply) =>
    reply.type(html).send(watch),
  );
  app.get('/dashboard', page('Dashboard page'), async (_request, reply) =>
    reply.type(html).send(dashboard),
  );
  const toDashboard = {
    summary: 'Redirect to the dashboard',
    tags: tagged('pages'),
    response: { 302: noBody('to /dashboard') },
  };
  app.get('/', { schema: toDashboard }, async (_request, reply) => reply.redirect('/dashboard'));
  const assetSchema = {
    summary: 'Script or style sheet of the pages',
    tags: tagged('pages'),
    response: { 200: text('the file', 'text/javascript', 'text/css') },
  };
  app.get('/assets/:name', { schema: assetSchema }, async (request, reply) => {
    const asset = assets.get((request.params as { name: string }).name);
    if (!asset) return reply.callNotFound();
    return reply.type(asset.type).header('cache-control', 'public, max-age=300').send(asset.body);
  });
};

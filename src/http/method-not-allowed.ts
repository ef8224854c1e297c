import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import FindMyWay from 'find-my-way';
import { pathOf, sendError } from './error-mapping.js';

/** The order `Allow` lists methods in. */
const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export interface RouterOptions {
  readonly ignoreTrailingSlash: boolean;
  readonly maxParamLength: number;
}

/**
 * Which methods the app's routes take on a concrete path, for a 405's `Allow`. Fastify's router
 * answers only "no handler for this method and path"; a second router of the same kind
 * (find-my-way, with the app's router options), fed every route through an onRoute hook, tells
 * a wrong method on a known path (405) from a path no route serves (404).
 */
export class RouteMethods {
  private readonly router;
  private readonly registered = new Set<string>();
  private readonly methods = new Set<string>();

  constructor(options: RouterOptions) {
    this.router = FindMyWay({ ...options, defaultRoute: () => {} });
  }

  /** Records a route; a catch-all OPTIONS route (CORS preflight) makes no path known. */
  add(route: Pick<RouteOptions, 'method' | 'url'>): void {
    for (const method of [route.method].flat()) {
      if (method === 'OPTIONS' && route.url.endsWith('*')) continue;
      const key = `${method} ${route.url}`;
      if (this.registered.has(key)) continue;
      this.registered.add(key);
      this.methods.add(method);
      this.router.on(method as 'GET', route.url, () => {});
    }
  }

  /** Methods some route takes on `url` (path and query as requested), in `Allow` order. */
  allowed(url: string): string[] {
    const found: string[] = [];
    for (const method of this.methods) {
      try {
        if (this.router.find(method as 'GET', url)) found.push(method);
      } catch {
        // A URL the router cannot read matches no route.
      }
    }
    return found.sort((a, b) => rank(a) - rank(b));
  }
}

function rank(method: string): number {
  const at = METHOD_ORDER.indexOf(method);
  return at === -1 ? METHOD_ORDER.length : at;
}

/** Feeds every route the app registers from now on into a new `RouteMethods`. */
export function trackRouteMethods(app: FastifyInstance, options: RouterOptions): RouteMethods {
  const table = new RouteMethods(options);
  app.addHook('onRoute', (route) => table.add(route));
  return table;
}

export interface NotFoundOptions {
  /** Methods the routes take on a URL (none: no route serves its path). */
  readonly allowedMethods: (url: string) => readonly string[];
  /** Runs before the answer (CORS headers, so a page can read the 404 of a /live/ path). */
  readonly beforeAnswer?: (request: FastifyRequest, reply: FastifyReply) => void;
}

/**
 * What a request no route takes gets: a path some route serves, asked with a method none takes,
 * is a 405 naming the methods (RFC 9110 section 15.5.6); a path no route serves is a 404.
 */
export function installNotFoundHandler(app: FastifyInstance, options: NotFoundOptions): void {
  app.setNotFoundHandler((request, reply) => {
    options.beforeAnswer?.(request, reply);
    const path = pathOf(request.url);
    const allowed = options.allowedMethods(request.url);
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      reply.header('allow', allowed.join(', '));
      return sendError(
        reply,
        'METHOD_NOT_ALLOWED',
        `${request.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`,
      );
    }
    return sendError(reply, 'ROUTE_NOT_FOUND', `no route for ${request.method} ${path}`);
  });
}

import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import { ErrorEnvelope } from './error-envelope.js';
import { SECURITY_SCHEMES, TAGS, tagged } from './operation-docs.js';
import { OpenApiDocument } from './response-schemas.js';

/** Where the document and its reading page are served. */
export const OPENAPI_PATH = '/api/v1/openapi.json';
export const DOCS_PREFIX = '/api/docs';

export interface OpenApiOptions {
  /** Whether a route needs the admin token (its operation names the bearer scheme). */
  readonly isAdmin: (route: RouteOptions) => boolean;
}

/** What every operation may answer besides its successes: the JSON error body. */
function failure(description: string) {
  return { description, content: { 'application/json': { schema: { $ref: 'ErrorEnvelope#' } } } };
}

const FAILURES = {
  '4XX': failure('refused: the error code says why (README: Error codes)'),
  '5XX': failure('overloaded, draining, or a fault of the server (with Retry-After when worth it)'),
};

/**
 * The OpenAPI 3 document (@fastify/swagger), generated from the routes' own schemas: each route
 * carries its summary, tags, success responses (with `Location` where it answers one) and the
 * credentials it takes. Added here to every operation: an id, the error envelope for 4XX and
 * 5XX, and the admin token's scheme on the routes its hook guards (read from the hook, so it
 * cannot drift). Served at /api/v1/openapi.json, and read at /api/docs (@fastify/swagger-ui,
 * its assets from its own package: nothing loads from elsewhere).
 */
export function installOpenApi(app: FastifyInstance, options: OpenApiOptions): void {
  app.addSchema(ErrorEnvelope);
  app.register(swagger, {
    // Shared schemas become components named by their $id.
    refResolver: {
      buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`),
    },
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'VTP Live',
        description:
          'Live HLS distribution for lectures: the control API, ingest, HLS delivery and pages. Every error is `{error: {code, message, field?}, message, timestamp}`; the README lists the codes.',
        version: '1',
      },
      tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
      components: { securitySchemes: structuredClone(SECURITY_SCHEMES) },
    },
    transform: ({ schema, url, route }) => {
      const method = [route.method].flat()[0] as string;
      const described: FastifySchema & Record<string, unknown> = {
        ...schema,
        operationId: operationId(method, url),
        ...(options.isAdmin(route) && { security: [{ adminToken: [] }] }),
        response: { ...(schema?.response as object | undefined), ...FAILURES },
      };
      return { schema: described, url };
    },
  });
  app.register(async (scope) => {
    scope.get(
      OPENAPI_PATH,
      {
        schema: {
          summary: 'This document',
          tags: tagged('api'),
          response: { 200: OpenApiDocument },
        },
      },
      async () => scope.swagger(),
    );
  });
  app.register(swaggerUi, { routePrefix: DOCS_PREFIX, uiConfig: { docExpansion: 'list' } });
}

/** A stable, unique name per operation: its method and path in words. */
function operationId(method: string, url: string): string {
  const words = url
    .split('/')
    .filter((part) => part !== '' && part !== 'api' && part !== 'v1')
    .map((part) => part.replace(/^:/, 'by_').replace(/[^A-Za-z0-9_]/g, '_'));
  return [method.toLowerCase(), ...words].join('_');
}

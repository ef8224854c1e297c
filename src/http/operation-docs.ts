/**
 * Names the routes' own schemas use in the OpenAPI document (openapi.ts): the tags operations
 * are listed under, and the credentials each takes. All credentials go in
 * `Authorization: Bearer …`, but for the publish key, which an encoder may put in `?key=` too.
 */

/** Tags, with what the document says of each. */
export const TAGS = {
  streams: 'start and end streams; viewers join, leave and read statistics',
  segments: 'queued delivery of a segment to a viewer, and its outcome',
  viewers: "a viewer's buffer health, which drives its bitrate",
  distribution: 'system metrics, health and the push CDN',
  transcode: 'built-in ladder encoders',
  api: 'this description',
  ingest: "an encoder's pushes (ffmpeg's hls muxer, -method PUT)",
  hls: 'playlists and segments for players',
  recordings: 'ended streams kept on disk, played as VOD, listed and deleted',
  metrics: 'Prometheus',
  probes: 'liveness and readiness for orchestrators',
  pages: 'the player page and the dashboard',
} as const;

export type Tag = keyof typeof TAGS;

/** The `tags` of a route's schema. */
export function tagged(tag: Tag): [Tag] {
  return [tag];
}

/** Security schemes of the document (components.securitySchemes). */
export const SECURITY_SCHEMES = {
  adminToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'the admin token (--admin-token); open on a loopback server without one',
  },
  viewerSession: {
    type: 'http',
    scheme: 'bearer',
    description: "a viewer's `session_id` from its join: acts for that viewer only",
  },
  publishKey: {
    type: 'http',
    scheme: 'bearer',
    description: "the stream's publish key (`publish_key` at start, or --publish-key)",
  },
  publishKeyQuery: {
    type: 'apiKey',
    in: 'query',
    name: 'key',
    description: "the stream's publish key in the query, for encoders that cannot set headers",
  },
} as const;

/** One way to authenticate: scheme names, all required together (none: no credential). */
type SecurityRequirement = Readonly<Record<string, readonly string[]>>;

/** A viewer's own operations: its session, or the operator's token. */
export const VIEWER_SECURITY: readonly SecurityRequirement[] = [
  { viewerSession: [] },
  { adminToken: [] },
];

/** Open to anyone; a viewer's session shows its own row, the admin token every row. */
export const STATISTICS_SECURITY: readonly SecurityRequirement[] = [
  {},
  { viewerSession: [] },
  { adminToken: [] },
];

/** An encoder's pushes: the publish key as a bearer token or in `?key=`. */
export const PUBLISH_SECURITY: readonly SecurityRequirement[] = [
  { publishKey: [] },
  { publishKeyQuery: [] },
];

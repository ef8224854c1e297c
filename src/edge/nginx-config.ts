import { isAbsolute } from 'node:path';
import { formatHostPort, type HostPort } from './addresses.js';
import { EDGE_REPORT_TAG, edgeLogFormat, validEdgeName } from './edge-report.js';

/** What an edge needs to be told; every other setting comes from EDGE_CONFIG_DEFAULTS. */
export interface EdgeConfigOptions {
  /** The origin VTP Live: `http(s)://host[:port]`, no path. */
  readonly origin: string;
  /** Where the edge listens for viewers. */
  readonly listen: HostPort;
  /** Absolute directory of the cache (nginx creates it); nothing else may live in it. */
  readonly cacheDir: string;
  /** nginx worker processes (a number, or `auto`: one per core). */
  readonly workerProcesses?: number | 'auto';
  /** Connections one worker holds at once (viewers and the origin together). */
  readonly workerConnections?: number;
  /** Largest the cache may grow on disk, in MiB (the least recently used goes first). */
  readonly cacheSizeMiB?: number;
  /** The origin's `--edge-reports` address: every request's line goes there over syslog (UDP). */
  readonly reportTo?: HostPort | undefined;
  /** The edge's name in reports and metric labels (default: its host name and listen port). */
  readonly edgeName?: string | undefined;
  /** Absolute file to write the same report lines to, for the edge's own records. */
  readonly accessLog?: string | undefined;
  /**
   * Absolute, existing directory for the pid file, temp files and error log, so the edge runs unprivileged
   * (from a temp directory, say). Without one, nginx's built-in paths are used (a packaged
   * nginx started as root).
   */
  readonly runDir?: string | undefined;
  /** The user the workers run as when nginx starts as root (`user` directive). */
  readonly user?: string | undefined;
  /** Absolute PEM file of the CAs an https origin's certificate is checked against. */
  readonly originCaFile?: string | undefined;
}

export const EDGE_CONFIG_DEFAULTS = {
  workerProcesses: 'auto',
  workerConnections: 4096,
  cacheSizeMiB: 1024,
  /** Shared memory for cache keys: about 8,000 keys per MiB. */
  keysZoneMiB: 16,
  /** An object nobody asked for this long leaves the cache (segments are live for a minute). */
  inactive: '10m',
  /** Idle connections to the origin each worker keeps open. */
  originKeepalive: 32,
  /**
   * How long concurrent misses of one object wait for the first to fill the cache before going
   * to the origin themselves (uncached); nginx checks every 0.5 s.
   */
  lockTimeout: '5s',
  /** The system's CA bundle where Debian and Ubuntu keep it (other systems: --origin-ca-file). */
  originCaFile: '/etc/ssl/certs/ca-certificates.crt',
} as const;

/** A setting nginxEdgeConfig cannot use; `field` names the option at fault. */
export class EdgeConfigError extends Error {
  constructor(
    readonly field: keyof EdgeConfigOptions,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Characters a path may have in the generated file: nginx would read a space, `;`, `{`, a quote
 * or `$` (a variable) as syntax, and a path is written unquoted.
 */
const SAFE_PATH = /^\/[A-Za-z0-9._\-/+@,=~]*$/;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;

function checkPath(
  field: 'cacheDir' | 'accessLog' | 'runDir' | 'originCaFile',
  value: string,
): string {
  if (!isAbsolute(value) || !SAFE_PATH.test(value) || value.split('/').includes('..')) {
    throw new EdgeConfigError(
      field,
      `'${value}' must be an absolute path of letters, digits and . _ - / + @ , = ~ (no spaces, quotes, ; or $)`,
    );
  }
  return value.replace(/\/+$/, '') || '/';
}

function checkCount(
  field: 'workerConnections' | 'cacheSizeMiB' | 'workerProcesses',
  value: number,
  min: number,
  max: number,
): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new EdgeConfigError(field, `must be a whole number from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/** The origin as nginx proxies to it: scheme, and host:port for the upstream and `Host`. */
function checkOrigin(origin: string): {
  scheme: 'http' | 'https';
  authority: string;
  host: string;
  port: number;
} {
  let url: URL | undefined;
  try {
    url = new URL(origin);
  } catch {
    url = undefined;
  }
  if (
    !url ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.username ||
    url.password ||
    url.search ||
    url.hash ||
    url.pathname !== '/' ||
    !/^[A-Za-z0-9.\-[\]:]+$/.test(url.host)
  ) {
    throw new EdgeConfigError(
      'origin',
      `'${origin}' must be the origin's http:// or https:// URL without path, query or credentials (http://origin.example:8080)`,
    );
  }
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  const port = url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port);
  return { scheme, authority: url.host, host: url.hostname, port };
}

/**
 * A complete nginx.conf for a caching edge in front of the origin (README "Edge tier").
 * Segments are cached once for every viewer under their path alone (the session and CMCD in
 * their query change nothing in the bytes); a viewer's own playlists, which carry its session,
 * go to the origin every time. Throws EdgeConfigError naming the option at fault.
 */
export function nginxEdgeConfig(options: EdgeConfigOptions): string {
  const origin = checkOrigin(options.origin);
  const listen = options.listen;
  if (!Number.isInteger(listen.port) || listen.port < 1 || listen.port > 65535) {
    throw new EdgeConfigError('listen', `port must be from 1 to 65535, got ${listen.port}`);
  }
  const cacheDir = checkPath('cacheDir', options.cacheDir);
  const runDir = options.runDir === undefined ? undefined : checkPath('runDir', options.runDir);
  const accessLog =
    options.accessLog === undefined ? undefined : checkPath('accessLog', options.accessLog);
  const originCaFile = checkPath(
    'originCaFile',
    options.originCaFile ?? EDGE_CONFIG_DEFAULTS.originCaFile,
  );
  if (runDir !== undefined && (runDir === cacheDir || runDir.startsWith(`${cacheDir}/`))) {
    // nginx's cache loader deletes files in the cache directory that are not cache entries.
    throw new EdgeConfigError('runDir', 'must not be inside the cache directory');
  }
  const workers = options.workerProcesses ?? EDGE_CONFIG_DEFAULTS.workerProcesses;
  if (workers !== 'auto') checkCount('workerProcesses', workers, 1, 1024);
  const connections = checkCount(
    'workerConnections',
    options.workerConnections ?? EDGE_CONFIG_DEFAULTS.workerConnections,
    64,
    1_000_000,
  );
  const cacheSize = checkCount(
    'cacheSizeMiB',
    options.cacheSizeMiB ?? EDGE_CONFIG_DEFAULTS.cacheSizeMiB,
    16,
    64 * 1024 * 1024,
  );
  const edgeName = options.edgeName ?? `$hostname:${listen.port}`;
  if (options.edgeName !== undefined && !validEdgeName(options.edgeName)) {
    throw new EdgeConfigError(
      'edgeName',
      `'${options.edgeName}' must be 1-255 letters, digits and . _ : - (a host name, say)`,
    );
  }
  if (options.user !== undefined && !USER.test(options.user)) {
    throw new EdgeConfigError('user', `'${options.user}' is not a user name`);
  }
  const defaults = EDGE_CONFIG_DEFAULTS;
  const upstream = formatHostPort({ host: origin.host.replace(/^\[|\]$/g, ''), port: origin.port });
  const logs = [
    accessLog && `access_log ${accessLog} vtp_edge;`,
    options.reportTo &&
      `access_log syslog:server=${formatHostPort(options.reportTo)},tag=${EDGE_REPORT_TAG},nohostname vtp_edge;`,
  ].filter((line): line is string => typeof line === 'string' && line !== '');

  const runFiles = runDir
    ? [`pid ${runDir}/nginx.pid;`, `error_log ${runDir}/error.log warn;`]
    : [];
  const tempPaths = runDir
    ? ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
        (kind) => `${kind}_temp_path ${runDir}/${kind}_temp;`,
      )
    : [];
  // A TLS origin is named in SNI and its certificate checked against originCaFile's CAs.
  const tls =
    origin.scheme === 'https'
      ? [
          'proxy_ssl_server_name on;',
          `proxy_ssl_name ${origin.host};`,
          'proxy_ssl_verify on;',
          `proxy_ssl_trusted_certificate ${originCaFile};`,
        ].map((line) => `\n    ${line}`)
      : [];

  return `# VTP Live edge: a caching proxy in front of the origin ${origin.scheme}://${origin.authority}.
# Generated by \`vtp-live edge-config\`; README "Edge tier" says what it does and why.
${options.user ? `user ${options.user};\n` : ''}worker_processes ${workers};
${runFiles.join('\n')}${runFiles.length > 0 ? '\n' : ''}
events {
  worker_connections ${connections};
}

http {
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65s;
  server_tokens off;
${tempPaths.map((line) => `  ${line}`).join('\n')}${tempPaths.length > 0 ? '\n' : ''}
  # One cache for every viewer. The origin's Cache-Control decides what is kept and how long
  # (no proxy_cache_valid here): segments for a day (immutable, their names never serve other
  # bytes), shared media playlists for half a target duration, a missing segment for a second;
  # private and no-store answers (a viewer's own playlists) are never kept.
  proxy_cache_path ${cacheDir} levels=1:2 keys_zone=vtp_edge:${defaults.keysZoneMiB}m max_size=${cacheSize}m inactive=${defaults.inactive} use_temp_path=off;

  # A request names a viewer when it carries a session, a playback token or a CMCD session id
  # (in the CMCD query or the CMCD-Session header): the origin answers it for that viewer alone.
  map $arg_cmcd $vtp_cmcd_query_sid {
    "~*(^|,|%2C)sid(=|%3D)" 1;
    default "";
  }
  map $http_cmcd_session $vtp_cmcd_header_sid {
    "~*(^|,)\\s*sid=" 1;
    default "";
  }
  map "$arg_session$arg_token$vtp_cmcd_query_sid$vtp_cmcd_header_sid" $vtp_viewer_request {
    "" 0;
    default 1;
  }
  # A live multivariant playlist opens a session when it names none: never shared.
  map $uri $vtp_multivariant {
    "~^/live/[^/]+/master\\.m3u8$" 1;
    default 0;
  }
  # The path without its query, for reports: the query holds sessions, tokens and CMCD.
  map $request_uri $vtp_path {
    "~^(?<vtp_request_path>[^?]*)" $vtp_request_path;
    default -;
  }

  # One line per request (edge-report.ts reads it): edge, status, cache status, body bytes,
  # method, path, session. The origin's --edge-reports receiver counts the edges' hit rate
  # from it.
  log_format vtp_edge '${edgeLogFormat(edgeName)}';
  ${logs.length > 0 ? logs.join('\n  ') : 'access_log off;'}

  upstream vtp_origin {
    server ${upstream};
    keepalive ${defaults.originKeepalive};
  }

  server {
    listen ${formatHostPort(listen)};

    proxy_http_version 1.1;
    proxy_set_header Connection "";
    # The origin sees its own name; the name the viewer asked for, the viewer's address (what
    # a viewer sent as X-Forwarded-For is replaced, not trusted) and its scheme ride in the
    # X-Forwarded-* headers, which the origin reads with --trust-proxy set to the edges.
    proxy_set_header Host ${origin.authority};
    proxy_set_header X-Forwarded-Host $http_host;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Proto $scheme;${tls.join('')}

    # Live and recorded HLS: cached. Only the path is the key: the query of a segment carries
    # the viewer's session and CMCD, which change nothing in its bytes, so every viewer shares
    # one copy. CMCD (query or CMCD-* headers) and the session go on to the origin unchanged
    # with every request that reaches it; a segment served from the cache reaches nobody.
    location ~ ^/(live|vod)/ {
      proxy_pass ${origin.scheme}://vtp_origin;
      proxy_cache vtp_edge;
      proxy_cache_key $uri;
      # Concurrent misses of one object: one request goes to the origin, the rest wait for it.
      proxy_cache_lock on;
      proxy_cache_lock_timeout ${defaults.lockTimeout};
      proxy_cache_lock_age ${defaults.lockTimeout};
      # While the origin fails, what the cache holds is served. Not while updating: a segment
      # lives a day and never changes, so the segment answer that expires is the one-second
      # 404 of one not there yet; served stale, it would hide a segment that just appeared.
      proxy_cache_use_stale error timeout http_500 http_502 http_503 http_504;
      add_header X-Cache-Status $upstream_cache_status always;

      # Playlists: a viewer's own (it names a session, token or CMCD sid; its segment URIs carry
      # the session) is never looked up nor stored, so it is never served to another viewer and
      # every poll reaches the origin, which keeps the viewer alive and reads its CMCD. Keying
      # them by session instead would fill the cache with entries no one else can use (a viewer
      # polls once per target duration; they live half of one). Shared ones (no session) are
      # cached as the origin says; at the live edge an expired one is served while one request
      # refreshes it in the background, and while the origin fails.
      location ~ \\.m3u8$ {
        proxy_pass ${origin.scheme}://vtp_origin;
        proxy_cache_bypass $vtp_viewer_request $vtp_multivariant;
        proxy_no_cache $vtp_viewer_request $vtp_multivariant;
        proxy_cache_use_stale updating error timeout http_500 http_502 http_503 http_504;
        proxy_cache_background_update on;
      }
    }

    # Encoders push to the origin itself, never through an edge.
    location /ingest/ {
      return 403;
    }

    # Everything else (the control API, the player page, the dashboard): passed through, uncached.
    location / {
      proxy_pass ${origin.scheme}://vtp_origin;
    }
  }
}
`;
}

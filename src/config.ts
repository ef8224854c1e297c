import { isIPv4 } from 'node:net';
import { CLUSTER_DEFAULTS } from './cluster/cluster-defaults.js';
import {
  ADAPTATION_POLICIES,
  type AdaptationPolicyName,
  DEFAULT_ADAPTATION_POLICY,
  isAdaptationPolicyName,
} from './core/adaptation/index.js';
import { DEFAULT_MAX_VIEWERS } from './core/profiles.js';
import { parseHostPort, parseSenders } from './edge/addresses.js';
import { EDGE_REPORT_DEFAULTS } from './edge/edge-report-receiver.js';
import { HTTP_DEFAULTS } from './http/app.js';
import { parseOrigins } from './http/cors.js';
import { ENCODER_DEFAULTS, type PresetName } from './ingest/encoder-manager.js';
import { LADDER_PRESETS } from './ingest/ffmpeg-ladder.js';
import { INGEST_DEFAULTS } from './ingest/ingest-service.js';
import { PUBLISH_DEFAULTS } from './ingest/publish-ingest.js';
import { parseSrtPorts } from './ingest/srt/srt-ports.js';
import { SERVER_DEFAULTS } from './server.js';
import { parsePushTargets } from './service/cdn-push-target.js';
import { MAX_DVR_SECONDS, SERVICE_DEFAULTS } from './service/distribution-service.js';
import { HLS_DEFAULTS } from './service/hls-delivery.js';
import { PLAYBACK_TOKEN_DEFAULTS } from './service/playback-tokens.js';
import { RECORDINGS_DEFAULTS } from './service/recordings.js';
import { WEBHOOK_DEFAULTS } from './service/webhooks.js';
import { STORAGE_DEFAULTS } from './storage/store.js';

/** Everything `vtp-live serve` can be told; flags win over VTP_* environment over defaults. */
export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly workers: number;
  readonly queueCapacity: number;
  readonly retentionSeconds: number;
  readonly maxViewers: number;
  readonly dvrSeconds: number;
  readonly cdnBaseUrl: string | undefined;
  /** Push targets, comma-separated, as given (parsePushTargets reads them). */
  readonly cdnPushTargets: string | undefined;
  readonly longPollMs: number;
  readonly shutdownTimeoutSeconds: number;
  readonly logLevel: string;
  readonly playlistSegments: number;
  readonly idleTimeoutSeconds: number;
  readonly encoderTimeoutSeconds: number;
  readonly publishKey: string | undefined;
  readonly maxSegmentMiB: number;
  readonly maxPlaylistKiB: number;
  readonly maxPlaylistEntries: number;
  readonly maxInitSections: number;
  readonly ingestMinRateKiB: number;
  readonly streamIngestBudgetMiB: number;
  readonly ingestBudgetMiB: number;
  readonly mediaDir: string;
  readonly dataDir: string;
  readonly recordingsMaxAgeSeconds: number;
  readonly recordingsMaxBytes: number;
  readonly adminToken: string | undefined;
  readonly maxStreams: number;
  readonly playbackSecret: string | undefined;
  readonly playbackTokenTtlSeconds: number;
  readonly anonymousPerClient: number;
  readonly apiRateLimit: number;
  readonly joinRateLimit: number;
  readonly trustProxy: string | undefined;
  readonly requestTimeoutSeconds: number;
  readonly headersTimeoutSeconds: number;
  readonly corsOrigins: string;
  readonly apiCorsOrigins: string;
  readonly webhookUrl: string | undefined;
  readonly webhookSecret: string | undefined;
  /** Redis shared with other origins (`redis://HOST:PORT`); undefined = in-process state. */
  readonly stateUrl: string | undefined;
  /** HLS worker processes (src/cluster/): 1 is the single process, 0 one per core. */
  readonly processes: number;
  /** Where the origin listens (UDP, HOST:PORT) for the edge tier's reports; off when undefined. */
  readonly edgeReports: string | undefined;
  /** Addresses and CIDRs, comma-separated, whose edge reports are counted. */
  readonly edgeReportFrom: string;
  /** The adaptation policy every viewer's profile is chosen by (ADAPTATION_POLICIES). */
  readonly adaptation: AdaptationPolicyName;
  /** Where lecturers publish RTMP (on the server's host); 0 turns publishing off. */
  readonly rtmpPort: number;
  /** SRT listener ports, `FROM-TO`, one per stream with a stream key; undefined = no SRT. */
  readonly srtPorts: string | undefined;
  /** The ladder preset publishes from OBS are encoded with. */
  readonly publishPreset: PresetName;
}

/** Shortest secret accepted: publish key and admin token beyond loopback, playback secret always. */
export const MIN_SECRET_LENGTH = 16;

interface Setting {
  readonly key: keyof ServerConfig;
  readonly flag: string;
  readonly env: string;
  /** `origins` takes `*`; `listed-origins` takes explicit origins only. */
  readonly kind:
    | 'int'
    | 'int-or-auto'
    | 'string'
    | 'url'
    | 'origins'
    | 'listed-origins'
    | 'push-targets'
    | 'adaptation'
    | 'srt-ports'
    | 'preset';
  readonly min?: number;
  readonly max?: number;
  readonly description: string;
  readonly fallback: string | number | undefined;
  /** How --help describes a default that is computed from other settings. */
  readonly defaultText?: string;
}

/** One table drives flags, environment, validation and --help. */
export const SETTINGS: readonly Setting[] = [
  {
    key: 'host',
    flag: 'host',
    env: 'VTP_HOST',
    kind: 'string',
    description: 'address to bind',
    fallback: SERVER_DEFAULTS.host,
  },
  {
    key: 'port',
    flag: 'port',
    env: 'VTP_PORT',
    kind: 'int',
    min: 0,
    max: 65535,
    description: 'TCP port (0 picks a free one)',
    fallback: SERVER_DEFAULTS.port,
  },
  {
    key: 'workers',
    flag: 'workers',
    env: 'VTP_WORKERS',
    kind: 'int',
    min: 1,
    max: 256,
    description: 'delivery workers',
    fallback: SERVICE_DEFAULTS.workers,
  },
  {
    key: 'queueCapacity',
    flag: 'queue-capacity',
    env: 'VTP_QUEUE_CAPACITY',
    kind: 'int',
    min: 1,
    max: 1_000_000,
    description: 'delivery tasks that may wait',
    fallback: SERVICE_DEFAULTS.queueCapacity,
  },
  {
    key: 'retentionSeconds',
    flag: 'retention',
    env: 'VTP_RETENTION_SECONDS',
    kind: 'int',
    min: 2,
    max: 86_400,
    description: 'seconds a segment stays in the window',
    fallback: SERVICE_DEFAULTS.retentionMs / 1000,
  },
  {
    key: 'maxViewers',
    flag: 'max-viewers',
    env: 'VTP_MAX_VIEWERS',
    kind: 'int',
    min: 1,
    max: 1_000_000,
    description: 'viewer cap of a stream started without max_viewers',
    fallback: DEFAULT_MAX_VIEWERS,
  },
  {
    key: 'dvrSeconds',
    flag: 'dvr-seconds',
    env: 'VTP_DVR_SECONDS',
    kind: 'int',
    min: 0,
    max: MAX_DVR_SECONDS,
    description:
      'seconds of history the live playlist of a stream started without dvr_seconds lists for rewinding (held in memory); 0 turns DVR off',
    fallback: SERVICE_DEFAULTS.dvrSeconds,
  },
  {
    key: 'cdnBaseUrl',
    flag: 'cdn-base-url',
    env: 'VTP_CDN_BASE_URL',
    kind: 'url',
    description: 'deliver through this push CDN (http/https)',
    fallback: undefined,
  },
  {
    key: 'cdnPushTargets',
    flag: 'cdn-push-targets',
    env: 'VTP_CDN_PUSH_TARGETS',
    kind: 'push-targets',
    description:
      'PUT every segment and playlist of every live stream to these http(s) URLs, comma-separated; user:password@ and ?token= stay secret (prefer the environment)',
    fallback: undefined,
  },
  {
    key: 'longPollMs',
    flag: 'long-poll-ms',
    env: 'VTP_LONG_POLL_MS',
    kind: 'int',
    min: 0,
    max: 30_000,
    description: 'default wait of GET .../next at the live edge',
    fallback: HTTP_DEFAULTS.longPollMs,
  },
  {
    key: 'shutdownTimeoutSeconds',
    flag: 'shutdown-timeout',
    env: 'VTP_SHUTDOWN_TIMEOUT_SECONDS',
    kind: 'int',
    min: 0,
    max: 600,
    description: 'seconds to drain deliveries on SIGTERM/SIGINT',
    fallback: SERVER_DEFAULTS.shutdownTimeoutMs / 1000,
  },
  {
    key: 'playlistSegments',
    flag: 'playlist-segments',
    env: 'VTP_PLAYLIST_SEGMENTS',
    kind: 'int',
    min: 3,
    max: 30,
    description: 'segments a live media playlist lists',
    fallback: HLS_DEFAULTS.playlistSegments,
  },
  {
    key: 'idleTimeoutSeconds',
    flag: 'idle-timeout',
    env: 'VTP_IDLE_TIMEOUT_SECONDS',
    kind: 'int',
    min: 1,
    max: 3600,
    description: 'seconds without a request before a viewer leaves by itself',
    fallback: undefined,
    defaultText: '3 target durations + playlist duration',
  },
  {
    key: 'encoderTimeoutSeconds',
    flag: 'encoder-timeout',
    env: 'VTP_ENCODER_TIMEOUT_SECONDS',
    kind: 'int',
    min: 1,
    max: 3600,
    description: 'seconds without a push before a stream is ended',
    fallback: INGEST_DEFAULTS.encoderTimeoutMs / 1000,
  },
  {
    key: 'publishKey',
    flag: 'publish-key',
    env: 'VTP_PUBLISH_KEY',
    kind: 'string',
    description: 'key encoders must present to push (?key= or Bearer); needed beyond loopback',
    fallback: undefined,
  },
  {
    key: 'maxSegmentMiB',
    flag: 'max-segment-mib',
    env: 'VTP_MAX_SEGMENT_MIB',
    kind: 'int',
    min: 1,
    max: 256,
    description: 'largest segment an encoder may push, in MiB',
    fallback: INGEST_DEFAULTS.maxSegmentBytes / 2 ** 20,
  },
  {
    key: 'mediaDir',
    flag: 'media-dir',
    env: 'VTP_MEDIA_DIR',
    kind: 'string',
    description: 'folder file sources of built-in encoders are read from',
    fallback: ENCODER_DEFAULTS.mediaDir,
  },
  {
    key: 'dataDir',
    flag: 'data-dir',
    env: 'VTP_DATA_DIR',
    kind: 'string',
    description: 'folder of the state database (vtp.db, its key vtp.key) and the segment files',
    fallback: STORAGE_DEFAULTS.dataDir,
  },
  {
    key: 'recordingsMaxAgeSeconds',
    flag: 'recordings-max-age',
    env: 'VTP_RECORDINGS_MAX_AGE_SECONDS',
    kind: 'int',
    min: 0,
    max: 100 * 365 * 86_400,
    description: 'seconds a recording is kept after it ended; 0 = no age limit',
    fallback: RECORDINGS_DEFAULTS.maxAgeSeconds,
  },
  {
    key: 'recordingsMaxBytes',
    flag: 'recordings-max-bytes',
    env: 'VTP_RECORDINGS_MAX_BYTES',
    kind: 'int',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    description: 'bytes all recordings may hold; the oldest go first; 0 = no size limit',
    fallback: RECORDINGS_DEFAULTS.maxBytes,
  },
  {
    key: 'adminToken',
    flag: 'admin-token',
    env: 'VTP_ADMIN_TOKEN',
    kind: 'string',
    description:
      'bearer token for operations that change the server (start/end streams, encoders, deliveries, CDN); needed beyond loopback',
    fallback: undefined,
  },
  {
    key: 'maxStreams',
    flag: 'max-streams',
    env: 'VTP_MAX_STREAMS',
    kind: 'int',
    min: 1,
    max: 100_000,
    description:
      'streams held at once (live, or ended and still readable); beyond it a start is a 503',
    fallback: SERVICE_DEFAULTS.maxStreams,
  },
  {
    key: 'playbackSecret',
    flag: 'playback-secret',
    env: 'VTP_PLAYBACK_SECRET',
    kind: 'string',
    description: `HMAC secret of signed playback tokens (JWT, HS256); when set, playlists and joins need ?token= (at least ${MIN_SECRET_LENGTH} characters)`,
    fallback: undefined,
  },
  {
    key: 'playbackTokenTtlSeconds',
    flag: 'playback-token-ttl',
    env: 'VTP_PLAYBACK_TOKEN_TTL_SECONDS',
    kind: 'int',
    min: 60,
    max: 7 * 86_400,
    description: 'lifetime of the playback tokens the join API issues, in seconds',
    fallback: PLAYBACK_TOKEN_DEFAULTS.ttlSeconds,
  },
  {
    key: 'anonymousPerClient',
    flag: 'anonymous-per-client',
    env: 'VTP_ANONYMOUS_PER_CLIENT',
    kind: 'int',
    min: 0,
    max: 10_000,
    description:
      'anonymous HLS sessions (playlist opened without a session) one client address may hold at once; 0 turns anonymous viewing off',
    fallback: HLS_DEFAULTS.anonymousPerClient,
  },
  {
    key: 'apiRateLimit',
    flag: 'api-rate-limit',
    env: 'VTP_API_RATE_LIMIT',
    kind: 'int',
    min: 0,
    max: 1_000_000,
    description:
      'control API requests per minute per client (the admin token is exempt); 0 = no limit',
    fallback: HTTP_DEFAULTS.apiRateLimit,
  },
  {
    key: 'joinRateLimit',
    flag: 'join-rate-limit',
    env: 'VTP_JOIN_RATE_LIMIT',
    kind: 'int',
    min: 0,
    max: 1_000_000,
    description: 'viewer joins per minute per client (the admin token is exempt); 0 = no limit',
    fallback: HTTP_DEFAULTS.joinRateLimit,
  },
  {
    key: 'trustProxy',
    flag: 'trust-proxy',
    env: 'VTP_TRUST_PROXY',
    kind: 'string',
    description:
      "take the client address from X-Forwarded-For: 'true' for any proxy, or the proxies' addresses/CIDRs, comma-separated",
    fallback: undefined,
  },
  {
    key: 'requestTimeoutSeconds',
    flag: 'request-timeout',
    env: 'VTP_REQUEST_TIMEOUT_SECONDS',
    kind: 'int',
    min: 1,
    max: 3600,
    description: 'seconds a client has to send a whole request (headers and body)',
    fallback: HTTP_DEFAULTS.requestTimeoutMs / 1000,
  },
  {
    key: 'headersTimeoutSeconds',
    flag: 'headers-timeout',
    env: 'VTP_HEADERS_TIMEOUT_SECONDS',
    kind: 'int',
    min: 1,
    max: 3600,
    description: "seconds a client has to send a request's headers",
    fallback: HTTP_DEFAULTS.headersTimeoutMs / 1000,
  },
  {
    key: 'corsOrigins',
    flag: 'cors-origins',
    env: 'VTP_CORS_ORIGINS',
    kind: 'origins',
    description:
      "origins whose pages may read HLS (playlists, segments): '*' for any, or scheme://host[:port] comma-separated; 'none' for no CORS",
    fallback: HTTP_DEFAULTS.corsOrigins,
  },
  {
    key: 'apiCorsOrigins',
    flag: 'api-cors-origins',
    env: 'VTP_API_CORS_ORIGINS',
    kind: 'listed-origins',
    description:
      "origins whose pages may call the control API: scheme://host[:port] comma-separated ('*' is refused); none by default",
    fallback: HTTP_DEFAULTS.apiCorsOrigins,
    defaultText: 'none',
  },
  {
    key: 'maxPlaylistKiB',
    flag: 'max-playlist-kib',
    env: 'VTP_MAX_PLAYLIST_KIB',
    kind: 'int',
    min: 1,
    max: 16 * 1024,
    description: 'largest media playlist an encoder may push, in KiB',
    fallback: INGEST_DEFAULTS.maxPlaylistBytes / 1024,
  },
  {
    key: 'maxPlaylistEntries',
    flag: 'max-playlist-entries',
    env: 'VTP_MAX_PLAYLIST_ENTRIES',
    kind: 'int',
    min: 1,
    max: 1_000_000,
    description: 'segment entries a pushed media playlist may list',
    fallback: INGEST_DEFAULTS.maxPlaylistEntries,
  },
  {
    key: 'maxInitSections',
    flag: 'max-init-sections',
    env: 'VTP_MAX_INIT_SECTIONS',
    kind: 'int',
    min: 1,
    max: 1000,
    description: 'distinct fMP4 init sections kept per rendition',
    fallback: INGEST_DEFAULTS.maxInitSections,
  },
  {
    key: 'ingestMinRateKiB',
    flag: 'ingest-min-rate-kib',
    env: 'VTP_INGEST_MIN_RATE_KIB',
    kind: 'int',
    min: 0,
    max: 1024 * 1024,
    description:
      'slowest average pace of a push after its first 5 s, in KiB/s (0: no minimum); slower uploads get 408',
    fallback: INGEST_DEFAULTS.minUploadBytesPerSec / 1024,
  },
  {
    key: 'streamIngestBudgetMiB',
    flag: 'stream-ingest-budget-mib',
    env: 'VTP_STREAM_INGEST_BUDGET_MIB',
    kind: 'int',
    min: 1,
    max: 1024 * 1024,
    description: 'MiB of pushed media one stream may hold (published, waiting, init sections)',
    fallback: INGEST_DEFAULTS.streamBudgetBytes / (1024 * 1024),
  },
  {
    key: 'ingestBudgetMiB',
    flag: 'ingest-budget-mib',
    env: 'VTP_INGEST_BUDGET_MIB',
    kind: 'int',
    min: 1,
    max: 1024 * 1024,
    description: 'MiB of pushed media all streams together may hold; beyond it pushes get 503',
    fallback: INGEST_DEFAULTS.totalBudgetBytes / (1024 * 1024),
  },
  {
    key: 'webhookUrl',
    flag: 'webhook-url',
    env: 'VTP_WEBHOOK_URL',
    kind: 'url',
    description: `POST stream and viewer events here (http/https), signed with the webhook secret; a failed POST is retried up to ${WEBHOOK_DEFAULTS.retries} times with backoff, and at most ${WEBHOOK_DEFAULTS.queueCapacity} events wait`,
    fallback: undefined,
  },
  {
    key: 'webhookSecret',
    flag: 'webhook-secret',
    env: 'VTP_WEBHOOK_SECRET',
    kind: 'string',
    description: `HMAC-SHA256 key of the X-VTP-Signature on webhook bodies; needed with --webhook-url (at least ${MIN_SECRET_LENGTH} characters; prefer the environment)`,
    fallback: undefined,
  },
  {
    key: 'edgeReports',
    flag: 'edge-reports',
    env: 'VTP_EDGE_REPORTS',
    kind: 'string',
    description:
      "HOST:PORT (an IP) where the origin takes the edges' cache reports (syslog over UDP, `vtp-live edge-config --report-to`); the CDN hit rate then comes from them; off by default",
    fallback: undefined,
  },
  {
    key: 'edgeReportFrom',
    flag: 'edge-report-from',
    env: 'VTP_EDGE_REPORT_FROM',
    kind: 'string',
    description: 'addresses or CIDRs, comma-separated, whose edge reports are counted',
    fallback: EDGE_REPORT_DEFAULTS.from,
  },
  {
    key: 'processes',
    flag: 'processes',
    env: 'VTP_PROCESSES',
    kind: 'int-or-auto',
    min: 0,
    max: CLUSTER_DEFAULTS.maxProcesses,
    description:
      "processes serving HLS: 1 serves from this one process; N > 1 runs N workers sharing the port beside a primary that keeps the state; 'auto' or 0 is one per core",
    fallback: CLUSTER_DEFAULTS.processes,
  },
  {
    key: 'stateUrl',
    flag: 'state-url',
    env: 'VTP_STATE_URL',
    kind: 'string',
    description:
      'redis://HOST:PORT (or rediss://) of the Redis several origins share their viewers, caps and counters through; a password goes in the URL, so prefer the environment; none = this process alone',
    fallback: undefined,
  },
  {
    key: 'rtmpPort',
    flag: 'rtmp-port',
    env: 'VTP_RTMP_PORT',
    kind: 'int',
    min: 0,
    max: 65535,
    description:
      'port lecturers publish RTMP to from OBS (rtmp://HOST:PORT/live/STREAM_KEY), on --host; 0 turns publishing off',
    fallback: PUBLISH_DEFAULTS.rtmpPort,
  },
  {
    key: 'srtPorts',
    flag: 'srt-ports',
    env: 'VTP_SRT_PORTS',
    kind: 'srt-ports',
    description:
      'UDP ports FROM-TO for SRT publishing, one listener per stream with a stream key (the key is the passphrase); needs --rtmp-port; off by default',
    fallback: PUBLISH_DEFAULTS.srtPorts,
  },
  {
    key: 'publishPreset',
    flag: 'publish-preset',
    env: 'VTP_PUBLISH_PRESET',
    kind: 'preset',
    description: `ladder preset a publish from OBS is encoded with: ${Object.keys(LADDER_PRESETS).join(', ')}`,
    fallback: PUBLISH_DEFAULTS.preset,
  },
  {
    key: 'adaptation',
    flag: 'adaptation',
    env: 'VTP_ADAPTATION',
    kind: 'adaptation',
    description: `adaptation policy choosing each viewer's profile: ${Object.keys(ADAPTATION_POLICIES).join(', ')} (bench:abr compares them)`,
    fallback: DEFAULT_ADAPTATION_POLICY,
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'VTP_LOG_LEVEL',
    kind: 'string',
    description: 'pino level: fatal, error, warn, info, debug, trace, silent',
    fallback: 'info',
  },
];

export class ConfigError extends Error {}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Resolves the configuration from flags (keyed by flag name) and environment; throws ConfigError naming the flag or variable at fault. */
export function loadConfig(
  flags: Readonly<Record<string, string | undefined>>,
  env: Readonly<Record<string, string | undefined>>,
): ServerConfig {
  const config: Record<string, string | number | undefined> = {};
  for (const setting of SETTINGS) {
    const fromFlag = flags[setting.flag];
    const raw = fromFlag ?? env[setting.env];
    const source = fromFlag !== undefined ? `--${setting.flag}` : setting.env;
    config[setting.key] =
      raw === undefined || raw === '' ? setting.fallback : parse(setting, raw, source);
  }
  const segmentSec = 2;
  const playlistSec = Number(config.playlistSegments) * segmentSec;
  if (typeof config.idleTimeoutSeconds !== 'number')
    config.idleTimeoutSeconds = 3 * segmentSec + playlistSec;
  // A segment must stay fetchable a target duration plus a playlist duration after it leaves
  // the playlist (players and CDNs lag behind the live edge).
  const minRetention = 2 * playlistSec + segmentSec;
  if (Number(config.retentionSeconds) < minRetention) {
    throw new ConfigError(
      `--retention (VTP_RETENTION_SECONDS) must be at least ${minRetention} s with ${config.playlistSegments} playlist segments`,
    );
  }
  // A budget smaller than one segment would refuse every push of a real encoder.
  if (Number(config.streamIngestBudgetMiB) < Number(config.maxSegmentMiB)) {
    throw new ConfigError(
      '--stream-ingest-budget-mib (VTP_STREAM_INGEST_BUDGET_MIB) must be at least --max-segment-mib',
    );
  }
  if (Number(config.ingestBudgetMiB) < Number(config.streamIngestBudgetMiB)) {
    throw new ConfigError(
      '--ingest-budget-mib (VTP_INGEST_BUDGET_MIB) must be at least --stream-ingest-budget-mib',
    );
  }
  if (!isLoopback(String(config.host))) {
    if (!config.publishKey || !config.adminToken) {
      throw new ConfigError(
        'binding beyond loopback needs --publish-key (VTP_PUBLISH_KEY) and --admin-token (VTP_ADMIN_TOKEN), so strangers can neither publish nor run the server',
      );
    }
    for (const [flag, env, value] of [
      ['publish-key', 'VTP_PUBLISH_KEY', config.publishKey],
      ['admin-token', 'VTP_ADMIN_TOKEN', config.adminToken],
    ] as const) {
      if (String(value).length < MIN_SECRET_LENGTH) {
        throw new ConfigError(
          `--${flag} (${env}) must be at least ${MIN_SECRET_LENGTH} characters when binding beyond loopback`,
        );
      }
    }
  }
  // A short HMAC secret can be guessed offline from any token a student shares.
  if (
    config.playbackSecret !== undefined &&
    String(config.playbackSecret).length < MIN_SECRET_LENGTH
  ) {
    throw new ConfigError(
      `--playback-secret (VTP_PLAYBACK_SECRET) must be at least ${MIN_SECRET_LENGTH} characters`,
    );
  }
  // Pushes may hold every delivery worker but one, which always stays for viewers.
  if (config.cdnPushTargets !== undefined && Number(config.workers) < 2) {
    throw new ConfigError(
      '--cdn-push-targets (VTP_CDN_PUSH_TARGETS) needs --workers (VTP_WORKERS) of at least 2: one delivery worker always stays for viewers',
    );
  }
  // SRT publishes are relayed into the RTMP listener.
  if (config.srtPorts !== undefined && Number(config.rtmpPort) === 0) {
    throw new ConfigError(
      '--srt-ports (VTP_SRT_PORTS) needs --rtmp-port (VTP_RTMP_PORT): SRT publishes are relayed through the RTMP listener',
    );
  }
  checkWebhook(config.webhookUrl as string | undefined, config.webhookSecret as string | undefined);
  checkStateUrl(config.stateUrl as string | undefined);
  checkEdgeReports(config.edgeReports as string | undefined, String(config.edgeReportFrom));
  if (!LOG_LEVELS.has(String(config.logLevel))) {
    throw new ConfigError(
      `log level must be one of ${[...LOG_LEVELS].join(', ')}, got '${config.logLevel}'`,
    );
  }
  return config as unknown as ServerConfig;
}

/** A webhook needs a URL fetch can post to and a secret long enough to resist offline guessing. */
function checkWebhook(url: string | undefined, secret: string | undefined): void {
  if (url !== undefined) {
    const parsed = URL.canParse(url) ? new URL(url) : undefined;
    if (!parsed)
      throw new ConfigError(`--webhook-url (VTP_WEBHOOK_URL) is not a valid URL: '${url}'`);
    // fetch refuses URLs with credentials; the signature authenticates the sender instead.
    if (parsed.username || parsed.password) {
      throw new ConfigError(
        '--webhook-url (VTP_WEBHOOK_URL) must not carry user:password@; receivers check the X-VTP-Signature instead',
      );
    }
    if (secret === undefined) {
      throw new ConfigError(
        `--webhook-url (VTP_WEBHOOK_URL) needs --webhook-secret (VTP_WEBHOOK_SECRET) of at least ${MIN_SECRET_LENGTH} characters to sign the events`,
      );
    }
  }
  if (secret !== undefined && secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(
      `--webhook-secret (VTP_WEBHOOK_SECRET) must be at least ${MIN_SECRET_LENGTH} characters`,
    );
  }
}

/** The edge report address must be an IP and port; the senders addresses or CIDRs. */
function checkEdgeReports(listen: string | undefined, from: string): void {
  try {
    if (listen !== undefined) parseHostPort(listen);
  } catch (error) {
    throw new ConfigError(`--edge-reports (VTP_EDGE_REPORTS): ${(error as Error).message}`);
  }
  try {
    parseSenders(from);
  } catch (error) {
    throw new ConfigError(`--edge-report-from (VTP_EDGE_REPORT_FROM): ${(error as Error).message}`);
  }
}

/** The shared state is a Redis URL (the password, if any, inside it). */
function checkStateUrl(url: string | undefined): void {
  if (url === undefined) return;
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') || !parsed.host) {
    throw new ConfigError(
      `--state-url (VTP_STATE_URL) must be redis://HOST:PORT or rediss://HOST:PORT, got '${parsed ? `${parsed.protocol}//${parsed.host}` : 'not a URL'}'`,
    );
  }
}

/**
 * Only IP literals count as loopback: a name (even `localhost`) resolves however DNS or
 * /etc/hosts say, and `127.evil.com` is a name too.
 */
export function isLoopback(host: string): boolean {
  if (host === '::1') return true;
  return isIPv4(host) && Number(host.split('.')[0]) === 127;
}

function parse(setting: Setting, raw: string, source: string): string | number {
  if (setting.kind === 'int-or-auto') {
    const { min = 0, max = Number.MAX_SAFE_INTEGER } = setting;
    if (raw === 'auto') return 0;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new ConfigError(
        `${source} must be 'auto' or a whole number from ${min} to ${max}, got '${raw}'`,
      );
    }
    return Number(raw);
  }
  if (setting.kind === 'int') {
    const value = Number(raw);
    const { min = 0, max = Number.MAX_SAFE_INTEGER } = setting;
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      throw new ConfigError(`${source} must be a whole number from ${min} to ${max}, got '${raw}'`);
    }
    return value;
  }
  if (setting.kind === 'adaptation' && !isAdaptationPolicyName(raw)) {
    throw new ConfigError(
      `${source} must name an adaptation policy: ${Object.keys(ADAPTATION_POLICIES).join(', ')}; got '${raw}'`,
    );
  }
  if (setting.kind === 'preset' && !Object.hasOwn(LADDER_PRESETS, raw)) {
    throw new ConfigError(
      `${source} must name a ladder preset: ${Object.keys(LADDER_PRESETS).join(', ')}; got '${raw}'`,
    );
  }
  if (setting.kind === 'srt-ports') {
    try {
      parseSrtPorts(raw);
    } catch (error) {
      throw new ConfigError(`${source}: ${(error as Error).message}`);
    }
  }
  if (setting.kind === 'url' && !/^https?:\/\/[^\s]+$/.test(raw)) {
    throw new ConfigError(`${source} must be an http:// or https:// URL, got '${raw}'`);
  }
  if (setting.kind === 'push-targets') {
    try {
      parsePushTargets(raw);
    } catch (error) {
      // Its message masks the targets' secrets; the raw value is never repeated.
      throw new ConfigError(`${source} ${(error as Error).message}`);
    }
  }
  if (setting.kind === 'origins' || setting.kind === 'listed-origins') {
    try {
      parseOrigins(raw, { allowAny: setting.kind === 'origins' });
    } catch (error) {
      throw new ConfigError(`${source}: ${(error as Error).message}`);
    }
  }
  return raw;
}

import type { FastifyRequest } from 'fastify';
import pino from 'pino';
import type { ServerConfig } from './config.js';
import { ADAPTATION_POLICIES } from './core/adaptation/index.js';
import { DEFAULT_MAX_VIEWERS } from './core/profiles.js';
import { parseHostPort, parseSenders } from './edge/addresses.js';
import { EdgeReportReceiver, type EdgeReportReceiverOptions } from './edge/edge-report-receiver.js';
import { EdgeReports } from './edge/edge-reports.js';
import { type App, type AppOptions, buildApp } from './http/app.js';
import { redactingLoggerOptions } from './http/log-redaction.js';
import type { PresetName } from './ingest/encoder-manager.js';
import {
  ENCODER_DEFAULTS,
  EncoderManager,
  type EncoderManagerOptions,
} from './ingest/encoder-manager.js';
import { INGEST_DEFAULTS, type IngestOptions, IngestService } from './ingest/ingest-service.js';
import { ffprobeMedia } from './ingest/media-probe.js';
import { PublishIngest } from './ingest/publish-ingest.js';
import { parseSrtPorts, type SrtPortRange } from './ingest/srt/srt-ports.js';
import { MirroredAudience } from './service/audience-mirror.js';
import { CdnPusher, type CdnPushOptions } from './service/cdn-push.js';
import { parsePushTargets } from './service/cdn-push-target.js';
import {
  DistributionService,
  type DistributionServiceOptions,
  SERVICE_DEFAULTS,
} from './service/distribution-service.js';
import { logEncoderEvent, logStreamEvents } from './service/event-log.js';
import { HLS_DEFAULTS, HlsDelivery, type HlsOptions } from './service/hls-delivery.js';
import { PlaybackTokens } from './service/playback-tokens.js';
import { Recordings, type RecordingsOptions } from './service/recordings.js';
import { bearerToken } from './service/secrets.js';
import { type SharedRequest, SharedRequests } from './service/shared-requests.js';
import { type WebhookOptions, WebhookSender } from './service/webhooks.js';
import { MemoryStore } from './storage/memory-store.js';
import { openStoreOrRecover } from './storage/open-store.js';
import { RedisAudienceStore } from './storage/redis-audience.js';
import { SegmentFiles } from './storage/segment-files.js';
import { scanSegmentFilesAtStart } from './storage/segment-files-start.js';
import { recordEncoderJobs, StateRecorder } from './storage/state-recorder.js';
import {
  recoverState,
  restartEncoderJobs,
  restoreSegmentWindows,
  restoreStreamKeys,
} from './storage/state-recovery.js';
import type { Store } from './storage/store.js';
import { rebuildLostStreams } from './storage/streams-from-files.js';

export interface RuntimeOptions {
  readonly service?: DistributionServiceOptions;
  readonly ingest?: IngestOptions;
  readonly hls?: HlsOptions;
  readonly encoders?: Partial<Omit<EncoderManagerOptions, 'ingestAccess'>>;
  readonly logger?: pino.Logger | false;
  readonly longPollMs?: number;
  /** Largest segment an encoder may push (ingest.limits.maxSegmentBytes wins when both are set). */
  readonly maxSegmentBytes?: number;
  readonly adminToken?: string | undefined;
  /** Rate limits, client address and request timeouts of the HTTP front (defaults: HTTP_DEFAULTS). */
  readonly http?: Partial<
    Pick<
      AppOptions,
      | 'apiRateLimit'
      | 'joinRateLimit'
      | 'trustProxy'
      | 'requestTimeoutMs'
      | 'headersTimeoutMs'
      | 'corsOrigins'
      | 'apiCorsOrigins'
    >
  >;
  /** HMAC secret of playback tokens; without one, playback is open. */
  readonly playbackSecret?: string | undefined;
  readonly playbackTokenTtlSeconds?: number;
  /** Where stream and viewer events are posted (delivery settings default to WEBHOOK_DEFAULTS). */
  readonly webhooks?: Omit<WebhookOptions, 'logger'> | undefined;
  /** Where state and segment files are kept; without one, everything lives in memory only. */
  readonly dataDir?: string | undefined;
  /** Retention of recordings (defaults: RECORDINGS_DEFAULTS); they exist only with segment files. */
  readonly recordings?: Pick<RecordingsOptions, 'maxAgeSeconds' | 'maxBytes' | 'sweepIntervalMs'>;
  /** Where the edge tier's cache reports are taken (UDP); without, the CDN counts are the push CDN's. */
  readonly edgeReports?: EdgeReportReceiverOptions | undefined;
  /**
   * Redis the audience is shared through with other origins (`redis://HOST:PORT`); without it
   * sessions, caps and counters are this process's alone.
   */
  readonly stateUrl?: string | undefined;
  /**
   * Push delivery (`--cdn-push-targets`): targets and bounds; the pool, the streams and their
   * events are the service's.
   */
  readonly cdnPush?: Omit<CdnPushOptions, 'submitter' | 'streams' | 'events'> | undefined;
  /**
   * Publishing from OBS with stream keys: the RTMP listener (on the server's host) and the SRT
   * port range; without, stream keys are refused.
   */
  readonly publishing?:
    | {
        /** Where the listeners bind (the server's host). */
        readonly host: string;
        readonly rtmpPort: number;
        readonly srtPorts?: SrtPortRange | undefined;
        readonly preset?: PresetName;
      }
    | undefined;
}

/** Where and how the server process listens and stops when not told otherwise. */
export const SERVER_DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  shutdownTimeoutMs: 10_000,
  /**
   * Connections the kernel queues before accept(): Node's default 511 drops SYNs when thousands
   * of players arrive at once (bench:viewers at 5,000 viewers: 30,846 listen drops with 511,
   * none with 4096). The kernel caps it at net.core.somaxconn.
   */
  listenBacklog: 4096,
} as const;

/** The parts of a running VTP Live, wired together but not yet listening. */
export interface Runtime {
  readonly app: App;
  readonly service: DistributionService;
  readonly ingest: IngestService;
  readonly hls: HlsDelivery;
  readonly encoders: EncoderManager;
  /** Posts events to the learning platform when a webhook URL is set; `stats()` counts them. */
  readonly webhooks: WebhookSender | undefined;
  /** Segments and init sections on disk (with a data directory, or given as `ingest.files`). */
  readonly segmentFiles: SegmentFiles | undefined;
  /** Streams, sessions and counters: kept across restarts with a data directory, else in memory. */
  readonly store: Store | undefined;
  /** Recordings of ended streams, from the segment files (none without them). */
  readonly recordings: Recordings | undefined;
  /** The edge tier's reports (with `edgeReports`): per-edge cache outcomes, the CDN hit rate. */
  readonly edgeReports: EdgeReportReceiver | undefined;
  /** Pushes every live stream to the push targets (with `cdnPush` targets); `status()` counts. */
  readonly cdnPush: CdnPusher | undefined;
  /** Lecturers publishing from OBS (RTMP, SRT), with `publishing`; it listens with the server. */
  readonly publishing: PublishIngest | undefined;
  /** Starts listening and points the built-in encoders at this server; resolves its URL. */
  listen(host: string, port: number): Promise<string>;
  /**
   * Refuses new work, drains deliveries and sends queued webhook events within `deadlineMs`,
   * stops timers and the listener.
   */
  close(deadlineMs: number): Promise<boolean>;
}

/** Builds service, ingest, HLS delivery and the HTTP app, and starts their timers. */
export function createRuntime(options: RuntimeOptions = {}): Runtime {
  const log = options.logger || undefined;
  const service = new DistributionService({
    onListenerError: (err) => log?.error({ err }, 'a stream event listener failed'),
    onSharedStateWarning: (message, err) => log?.warn({ err }, message),
    ...options.service,
    ...(options.stateUrl !== undefined && {
      audience: new MirroredAudience(new RedisAudienceStore(options.stateUrl)),
    }),
  });
  const webhooks = options.webhooks && new WebhookSender({ ...options.webhooks, logger: log });
  webhooks?.attach(service.events);
  const segmentFiles =
    options.ingest?.files ??
    (options.dataDir !== undefined ? new SegmentFiles(options.dataDir) : undefined);
  const ingest = new IngestService(service, {
    ...options.ingest,
    files: segmentFiles,
    limits: { maxSegmentBytes: options.maxSegmentBytes, ...options.ingest?.limits },
  });
  const recordings =
    segmentFiles &&
    new Recordings(segmentFiles, service, {
      ...options.recordings,
      onError: (err) => log?.error({ err }, 'recording housekeeping failed'),
      onRemoved: (recordingId, reason, bytes) => {
        log?.info({ recordingId, reason, bytes }, 'recording removed');
        // The lecture's attendance goes with its recording (a replaced incarnation is not the
        // lecture: the id's records now belong to the stream that replaced it).
        if (reason !== 'replaced') store.recorder.forget(recordingId);
      },
    });
  const store = openState(options.dataDir, service, ingest, log);
  // Ingest probes the media: a master playlist waits briefly for a probe still running.
  const hls = new HlsDelivery(
    service,
    // Edges report their caches: segments served from them never reach this origin.
    { ...(options.hls ?? HLS_DEFAULTS), ...(options.edgeReports && { seatAtPlaylist: true }) },
    ingest,
  );
  const encoders = new EncoderManager({
    mediaDir: ENCODER_DEFAULTS.mediaDir,
    ...options.encoders,
    // Encoders get a per-job token from ingest, never the publish key itself.
    ingestAccess: ingest.access,
    secrets: [options.ingest?.publishKey, options.adminToken],
  });
  // Running jobs are kept in the store and start again after a restart (in listen).
  recordEncoderJobs(encoders, store.store);
  const edgeReports =
    options.edgeReports && new EdgeReportReceiver(new EdgeReports(), options.edgeReports);
  // Behind an edge tier the CDN hit rate is the edges' own count of segment hits and misses.
  if (edgeReports) service.useCacheCounts(edgeReports.reports);
  const cdnPush = createCdnPush(options, service, log);
  // Its listeners start in listen(), once encoders have a URL to push to.
  const publishing =
    options.publishing &&
    new PublishIngest({
      rtmp: { host: options.publishing.host, port: options.publishing.rtmpPort },
      srt: options.publishing.srtPorts && {
        host: options.publishing.host,
        ...options.publishing.srtPorts,
      },
      encoders,
      streams: ingest,
      keyStore: store.store,
      reconnectWindowMs: options.ingest?.encoderTimeoutMs ?? INGEST_DEFAULTS.encoderTimeoutMs,
      ...(options.publishing.preset && { preset: options.publishing.preset }),
      log: log ?? SILENT_LOG,
    });
  if (publishing) restoreStreamKeys(store.store, service, publishing);
  const app = buildApp({
    service,
    ingest,
    hls,
    encoders,
    edgeReports: edgeReports?.reports,
    recordings,
    logger: options.logger ?? false,
    ...(options.longPollMs !== undefined && { longPollMs: options.longPollMs }),
    adminToken: options.adminToken,
    attendance: store.recorder,
    cdnPush,
    publishing,
    ...options.http,
    playback: options.playbackSecret
      ? new PlaybackTokens(options.playbackSecret, options.playbackTokenTtlSeconds)
      : undefined,
  });
  // Handlers read sessions from memory: what the shared state must add comes first.
  if (service.sharesAudience) installSharedRequests(app, new SharedRequests(service, hls));
  service.start();
  ingest.start();
  recordings?.start();
  cdnPush?.start();
  const pruner = setInterval(() => hls.prune(), 10_000).unref();
  let closing: Promise<boolean> | undefined;
  return {
    app,
    service,
    ingest,
    hls,
    encoders,
    webhooks,
    segmentFiles,
    store: store.store,
    recordings,
    edgeReports,
    cdnPush,
    publishing,
    async listen(host, port) {
      // Without the state the other origins share, this one must not serve (a clear message).
      await service.connectShared();
      // What is on disk is checked (and the index rebuilt) before anything can push to it.
      const scanned = segmentFiles && (await scanSegmentFilesAtStart(segmentFiles, log));
      if (segmentFiles && scanned) {
        // Streams the state database lost come back from their files before retention looks at
        // them or an encoder pushes again: a new stream of their id would replace the recording.
        rebuildLostStreams(
          segmentFiles,
          scanned.problems,
          store.store,
          service,
          ingest.access,
          {
            maxViewers: options.service?.defaultMaxViewers ?? DEFAULT_MAX_VIEWERS,
            retentionMs: options.service?.retentionMs ?? SERVICE_DEFAULTS.retentionMs,
          },
          log,
        );
        // The recorder goes on from what they were rebuilt with, as from restored streams.
        store.recorder.resume([]);
      }
      // Recordings past their limits while the server was down go before anything is served.
      await recordings?.sweep().catch((err) => log?.error({ err }, 'recording retention failed'));
      // Restored live streams get their windows back from those files before anyone asks.
      if (segmentFiles && store) {
        await restoreSegmentWindows(segmentFiles, store.store, service, log);
      }
      // Edges report from their first viewer on: the receiver listens before they can have one.
      const reportsAt = await edgeReports?.start();
      if (reportsAt) log?.info({ edgeReports: reportsAt }, 'taking edge reports');
      await app.listen({ host, port, backlog: SERVER_DEFAULTS.listenBacklog });
      const address = app.server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
      // Built-in encoders publish through this server's own ingest, over loopback when it binds all.
      encoders.setIngestBase(
        `http://${isWildcard(host) ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${bound}`,
      );
      // Publishes start ladders, which need that URL; a listener that cannot start stops the
      // server before any ladder runs.
      if (publishing && options.publishing) {
        const { host: rtmpHost, rtmpPort } = options.publishing;
        await publishing.start().catch((error: Error) => {
          throw new Error(
            `RTMP publishing cannot listen on ${rtmpHost}:${rtmpPort} (${error.message}): free the port, choose another with --rtmp-port, or turn publishing off with --rtmp-port 0`,
          );
        });
        log?.info({ rtmp: `rtmp://${rtmpHost}:${rtmpPort}/live` }, 'taking RTMP publishes');
      }
      // Encoders running before a restart push again, now that there is a URL to push to.
      restartEncoderJobs(store.store, service, encoders, log);
      return url;
    },
    close(deadlineMs) {
      closing ??= (async () => {
        clearInterval(pruner);
        recordings?.stop();
        ingest.stop();
        // No new pushes: the drain below finishes the ones already in the pool.
        cdnPush?.stop();
        // Refuse new connections and deliveries at once and stop the encoders; all within the
        // deadline, after which connections still open (a slow upload, say) are cut.
        const listenerClosed = app.close();
        const deadlineAt = performance.now() + deadlineMs;
        const deadline = setTimeout(() => app.server.closeAllConnections(), deadlineMs);
        const [drained] = await Promise.all([
          service.shutdown(deadlineMs),
          listenerClosed,
          encoders.stopAll(),
          edgeReports?.stop(),
          publishing?.stop(),
        ]);
        clearTimeout(deadline);
        // What the finished requests counted goes to the other origins before the state closes,
        // within what is left of the deadline (a stalled Redis must not hold the shutdown).
        await service.closeShared(Math.max(0, deadlineAt - performance.now()));
        // Webhook events last: requests finishing above may still announce leaves and ends.
        const flushed = await (webhooks?.flush(Math.max(0, deadlineAt - performance.now())) ??
          true);
        // State last: what the drained requests changed is written, then the database closed.
        store.recorder.stop();
        store.store.close();
        return drained && flushed;
      })();
      return closing;
    },
  };
}

export interface RunningServer extends Omit<Runtime, 'close'> {
  readonly url: string;
  /**
   * Closes within `deadlineMs` (the configured shutdown deadline, or what a cluster's primary has
   * left of it); resolves whether deliveries drained.
   */
  close(deadlineMs?: number): Promise<boolean>;
  /** Last resort on process exit: no ffmpeg or RTMP child outlives the server. */
  killChildren(): void;
}

/**
 * Every secret the settings hold, which no log line may carry (the cluster's workers log with
 * the same list): keys, tokens, the state URL's password, the push targets' credentials.
 */
export function loggedSecrets(config: ServerConfig): (string | undefined)[] {
  return [
    config.publishKey,
    config.adminToken,
    config.playbackSecret,
    config.webhookSecret,
    config.stateUrl && (new URL(config.stateUrl).password || undefined),
    ...(config.cdnPushTargets ? parsePushTargets(config.cdnPushTargets) : []).flatMap(
      (target) => target.secrets,
    ),
  ];
}

/** Starts VTP Live as configured and listens. */
export async function startServer(
  config: ServerConfig,
  /** `inMemory`: keep nothing in the data directory (the demo, which starts afresh each run). */
  mode: {
    readonly inMemory?: boolean;
    /** Called with the wired runtime before it listens (the cluster's primary adds a hook). */
    readonly beforeListen?: (runtime: Runtime) => void;
    /**
     * Where lecturers publish, when the HTTP server binds elsewhere (a cluster's primary binds
     * loopback; its workers serve the public address).
     */
    readonly publicHost?: string;
  } = {},
): Promise<RunningServer> {
  const logger = pino({
    level: config.logLevel,
    name: 'vtp-live',
    ...redactingLoggerOptions(loggedSecrets(config)),
  });
  const runtime = createRuntime({
    logger,
    longPollMs: config.longPollMs,
    adminToken: config.adminToken,
    maxSegmentBytes: config.maxSegmentMiB * 1024 * 1024,
    hls: {
      playlistSegments: config.playlistSegments,
      anonymousPerClient: config.anonymousPerClient,
      anonymousPendingMs: config.idleTimeoutSeconds * 1000,
    },
    http: {
      apiRateLimit: config.apiRateLimit,
      joinRateLimit: config.joinRateLimit,
      trustProxy: trustProxySetting(config.trustProxy),
      requestTimeoutMs: config.requestTimeoutSeconds * 1000,
      headersTimeoutMs: config.headersTimeoutSeconds * 1000,
      corsOrigins: config.corsOrigins,
      apiCorsOrigins: config.apiCorsOrigins,
    },
    playbackSecret: config.playbackSecret,
    playbackTokenTtlSeconds: config.playbackTokenTtlSeconds,
    dataDir: mode.inMemory ? undefined : config.dataDir,
    stateUrl: config.stateUrl,
    recordings: {
      maxAgeSeconds: config.recordingsMaxAgeSeconds,
      maxBytes: config.recordingsMaxBytes,
    },
    ...(config.webhookUrl &&
      config.webhookSecret && {
        webhooks: { url: config.webhookUrl, secret: config.webhookSecret },
      }),
    ...(config.edgeReports && {
      edgeReports: {
        listen: parseHostPort(config.edgeReports),
        from: parseSenders(config.edgeReportFrom),
      },
    }),
    service: {
      maxStreams: config.maxStreams,
      workers: config.workers,
      queueCapacity: config.queueCapacity,
      retentionMs: config.retentionSeconds * 1000,
      defaultMaxViewers: config.maxViewers,
      dvrSeconds: config.dvrSeconds,
      idleTimeoutMs: config.idleTimeoutSeconds * 1000,
      ...(config.cdnBaseUrl && { cdnBaseUrl: config.cdnBaseUrl }),
      policy: ADAPTATION_POLICIES[config.adaptation],
    },
    ...(config.cdnPushTargets && {
      cdnPush: { targets: parsePushTargets(config.cdnPushTargets) },
    }),
    ...(config.rtmpPort > 0 && {
      publishing: {
        host: mode.publicHost ?? config.host,
        rtmpPort: config.rtmpPort,
        srtPorts: config.srtPorts === undefined ? undefined : parseSrtPorts(config.srtPorts),
        preset: config.publishPreset,
      },
    }),
    encoders: {
      mediaDir: config.mediaDir,
      onEvent: (event, detail) => logEncoderEvent(logger, event, detail),
    },
    ingest: {
      publishKey: config.publishKey,
      encoderTimeoutMs: config.encoderTimeoutSeconds * 1000,
      probe: ffprobeMedia(),
      warn: (message, detail) => logger.warn({ err: detail }, message),
      limits: {
        maxPlaylistBytes: config.maxPlaylistKiB * 1024,
        maxPlaylistEntries: config.maxPlaylistEntries,
        maxInitSections: config.maxInitSections,
        minUploadBytesPerSec: config.ingestMinRateKiB * 1024,
        streamBudgetBytes: config.streamIngestBudgetMiB * 1024 * 1024,
        totalBudgetBytes: config.ingestBudgetMiB * 1024 * 1024,
      },
    },
  });
  logStreamEvents(runtime.service.events, logger);
  mode.beforeListen?.(runtime);
  const url = await runtime.listen(config.host, config.port);
  const close = (deadlineMs = config.shutdownTimeoutSeconds * 1000) => runtime.close(deadlineMs);
  const killChildren = () => {
    runtime.encoders.killAll();
    runtime.publishing?.killAll();
  };
  return { ...runtime, url, close, killChildren };
}

/**
 * Opens the data directory's state database (a corrupt one is moved aside and logged), brings
 * its streams, sessions, keys and counters back into the service before anything listens, and
 * records every later change. Without a data directory the same records are kept in memory (a
 * MemoryStore), so attendance reports work alike; they are gone when the process exits.
 */
function openState(
  dataDir: string | undefined,
  service: DistributionService,
  ingest: IngestService,
  log: pino.Logger | undefined,
): { store: Store; recorder: StateRecorder } {
  const store =
    dataDir === undefined
      ? new MemoryStore()
      : openStoreOrRecover(
          dataDir,
          {
            error: (detail, message) =>
              log ? log.error(detail, message) : process.emitWarning(message),
          },
          log ? { onError: (err) => log.error({ err }, 'state database write failed') } : {},
        );
  const recovered = recoverState(store, service, ingest.access, log);
  const recorder = new StateRecorder(service, store, ingest.access, (err) =>
    log?.error({ err }, 'recording state failed'),
  );
  recorder.resume(recovered.sessions);
  recorder.start();
  return { store, recorder };
}

/**
 * With a shared audience, every request first gets from the shared state what its handler
 * reads from memory (shared-requests.ts); a join is admitted by its route, once authorised.
 */
function installSharedRequests(app: App, shared: SharedRequests): void {
  const read = (request: FastifyRequest): SharedRequest => ({
    method: request.method,
    route: request.routeOptions.url,
    params: request.params,
    query: request.query,
    body: request.body,
    bearer: bearerToken(request.headers.authorization),
    client: request.ip,
  });
  app.addHook('preHandler', async (request) => shared.before(read(request)));
}

/**
 * The pusher of every live stream to the push targets, through the service's delivery pool, a
 * target going down or coming back logged; undefined without targets.
 */
function createCdnPush(
  options: RuntimeOptions,
  service: DistributionService,
  log: pino.Logger | undefined,
): CdnPusher | undefined {
  if (!options.cdnPush?.targets.length) return undefined;
  return new CdnPusher({
    ...(options.hls?.playlistSegments !== undefined && {
      playlistSegments: options.hls.playlistSegments,
    }),
    clock: () => service.now(),
    onError: (err) => log?.error({ err }, 'CDN push planning failed'),
    onTargetState: (status) =>
      status.up
        ? log?.info({ target: status.target }, 'CDN push target is back')
        : log?.warn({ target: status.target, error: status.lastError }, 'CDN push target is down'),
    ...options.cdnPush,
    submitter: service,
    streams: service,
    events: service.events,
  });
}

/** `--trust-proxy`: 'true' trusts any proxy; anything else lists the proxies' addresses. */
function trustProxySetting(value: string | undefined): boolean | string {
  if (value === undefined || value === 'false') return false;
  return value === 'true' ? true : value;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** For a runtime without a logger (tests): publishing logs nowhere. */
const SILENT_LOG = { info() {}, warn() {} };

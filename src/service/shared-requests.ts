import { type DistributionService, SESSION_PREFIX } from './distribution-service.js';
import type { HlsDelivery } from './hls-delivery.js';

/** A request as the shared-state preparation reads it (the HTTP edge fills it in). */
export interface SharedRequest {
  readonly method: string;
  /** The matched route's pattern (`/live/:recording_id/master.m3u8`); undefined when none did. */
  readonly route: string | undefined;
  readonly params: unknown;
  readonly query: unknown;
  /** The validated body. */
  readonly body: unknown;
  /** The bearer token it carries, if any (the admin token or a viewer's session). */
  readonly bearer: string | undefined;
  /** The client's address. */
  readonly client: string;
}

/**
 * What a request needs from the state shared with other origins (`--state-url`) before its
 * handler, which reads the service from memory and synchronously: a stream about to be created
 * here gets the identity the origins agreed on, and a session or viewer this origin does not
 * know yet is looked up (it was admitted elsewhere less than a batch ago). A request naming
 * only what this origin knows costs a lookup in memory. A join is admitted by its route, once
 * authorised (DistributionService.admitViewer): nothing is seated for a refused request.
 * Without a shared state nothing is done.
 */
export class SharedRequests {
  constructor(
    private readonly service: DistributionService,
    private readonly hls: HlsDelivery,
  ) {}

  /** Before the handler: throws what the handler would (409 STREAM_EXISTS, 503…). */
  async before(request: SharedRequest): Promise<void> {
    const { method, route } = request;
    if (route === undefined || !this.service.sharesAudience) return;
    const params = record(request.params);
    const query = record(request.query);
    const body = record(request.body);
    const recordingId = text(params.recording_id) ?? text(body.recording_id);
    if (recordingId === undefined) return;
    if (method === 'PUT' && route.startsWith('/ingest/')) {
      await this.service.prepareStream(recordingId, {}, false);
      return;
    }
    if (method === 'POST' && route === '/api/v1/streams/start') {
      const settings = { maxViewers: count(body.max_viewers), dvrSeconds: count(body.dvr_seconds) };
      await this.service.prepareStream(recordingId, settings, true);
      return;
    }
    // A join's admission is its route's, after the playback token is checked.
    if (method === 'POST' && route === '/api/v1/streams/:recording_id') return;
    if (route.startsWith('/live/')) {
      const kind = route.endsWith('/master.m3u8')
        ? 'master'
        : route.endsWith('/index.m3u8')
          ? 'media'
          : 'segment';
      await this.hls.prepare(
        recordingId,
        { sessionId: text(query.session), client: request.client },
        kind,
      );
      return;
    }
    const bearer = request.bearer;
    if (bearer?.startsWith(SESSION_PREFIX) && !this.service.findSession(bearer)) {
      await this.service.lookUpSession(recordingId, bearer);
    }
    const viewerId = text(params.viewer_id) ?? text(query.viewer_id) ?? text(body.viewer_id);
    if (viewerId !== undefined && !this.knows(recordingId, viewerId)) {
      await this.service.refreshAudience(recordingId);
    }
  }

  /** Whether this origin seats the viewer (true for a stream it lacks: nothing to look up). */
  private knows(recordingId: string, viewerId: string): boolean {
    try {
      return this.service.getDistributor(recordingId).hasViewer(viewerId);
    } catch {
      return true;
    }
  }
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

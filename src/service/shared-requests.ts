import { PROFILE_NAMES, type ProfileName } from '../core/profiles.js';
import type { DistributionService } from './distribution-service.js';
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

/** Session ids carry this prefix (DistributionService makes them); admin tokens need not. */
const SESSION_PREFIX = 'vs-';

/**
 * What a request needs from the state shared with other origins (`--state-url`) before its
 * handler, which reads the service from memory and synchronously: a stream about to be created
 * here gets the identity the origins agreed on, a join its seat under the stream's cap across
 * every origin, and a session or viewer this origin does not know yet is looked up (it was
 * admitted elsewhere less than a batch ago). A request naming only what this origin knows costs
 * a lookup in memory. Without a shared state nothing is done.
 */
export class SharedRequests {
  constructor(
    private readonly service: DistributionService,
    private readonly hls: HlsDelivery,
  ) {}

  /** Before the handler: throws what the handler would (503 STREAM_FULL, 409 VIEWER_EXISTS…). */
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
    if (method === 'POST' && route === '/api/v1/streams/:recording_id') {
      const viewerId = text(body.viewer_id);
      if (viewerId !== undefined) {
        await this.service.reserveSeat(recordingId, viewerId, profile(body.initial_bitrate));
      }
      return;
    }
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

  /** After the response: a seat admitted for a join that failed afterwards goes back. */
  after(request: SharedRequest): void {
    if (request.method !== 'POST' || request.route !== '/api/v1/streams/:recording_id') return;
    const recordingId = text(record(request.params).recording_id);
    const viewerId = text(record(request.body).viewer_id);
    if (recordingId !== undefined && viewerId !== undefined) {
      this.service.releaseSeat(recordingId, viewerId);
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

function profile(value: unknown): ProfileName {
  return (PROFILE_NAMES as readonly unknown[]).includes(value) ? (value as ProfileName) : 'Low';
}

import type { StreamSummary, ViewerPage } from '../core/distributor.js';
import { formatDuration } from '../core/duration.js';
import { rfc3339 } from '../core/timestamp.js';
import type { ViewerSession } from '../core/viewer-session.js';
import type { IngestStatus, PublishUrls } from '../ingest/publish-ingest.js';
import type { CdnPushTargetStatus } from '../service/cdn-push-metrics.js';

/** Adds the `message` and `timestamp` every response carries. */
export function envelope<T extends object>(
  body: T,
  message: string,
): T & { message: string; timestamp: string } {
  return { ...body, message, timestamp: rfc3339(Date.now()) };
}

/** One viewer row of the seed's stream statistics, plus its session and switch history. */
export function viewerRow(session: ViewerSession, now: number) {
  return {
    viewer_id: session.viewerId,
    current_bitrate: session.currentBitrate,
    target_bitrate: session.targetBitrate,
    segments_received: session.segmentsReceived,
    bytes_received: session.bytesReceived,
    buffer_health: session.bufferHealth,
    connection_quality: session.connectionQuality,
    throughput_kbps: Math.round(session.throughputKbps),
    recommended_bitrate: session.recommendedBitrate ?? null,
    duration: formatDuration(now - session.joinedAt),
    joined_at: rfc3339(session.joinedAt),
    last_seen_at: rfc3339(session.lastSeenAt),
    bitrate_history: session.bitrateHistory.map((change) => ({
      from: change.from,
      to: change.to,
      at: rfc3339(change.at),
      reason: change.reason,
      ...(change.detail !== undefined && { detail: change.detail }),
    })),
  };
}

/** The metrics' `cdn_push`: each push target's figures (its URL already masked). */
export function cdnPushMetrics(targets: readonly CdnPushTargetStatus[]) {
  return {
    targets: targets.map((t) => ({
      target: t.target,
      up: t.up,
      segments_pushed: t.segmentsPushed,
      playlists_pushed: t.playlistsPushed,
      bytes_pushed: t.bytesPushed,
      deleted: t.deleted,
      deletes_given_up: t.deletesGivenUp,
      failed_attempts: t.failedAttempts,
      failures: t.failures,
      dropped: t.dropped,
      backlog: t.backlog,
      in_flight: t.inFlight,
      last_error: t.lastError ?? null,
      last_success_at: t.lastSuccessAt === undefined ? null : rfc3339(t.lastSuccessAt),
    })),
  };
}

/** A stream's figures without its per-viewer rows (for lists that must stay cheap). */
export function streamSummary(stats: StreamSummary) {
  return {
    recording_id: stats.recordingId,
    status: stats.status,
    max_viewers: stats.maxViewers,
    active_viewers: stats.activeViewers,
    peak_viewers: stats.peakViewers,
    total_segments_served: stats.totalSegmentsServed,
    total_bytes_served: stats.totalBytesServed,
    viewers_by_profile: stats.viewersByProfile,
    segments_available: stats.segmentsAvailable,
  };
}

/**
 * The seed's GET /api/v1/streams/{id} body (without the envelope): the stream's figures and one
 * page of the viewer rows the caller may see, with the cursor of the next page.
 */
export function streamStatistics(stats: StreamSummary, page: ViewerPage, now: number) {
  return {
    ...streamSummary(stats),
    viewers: page.sessions.map((session) => viewerRow(session, now)),
    next_cursor: page.nextAfter === undefined ? null : String(page.nextAfter),
  };
}

/** A stream's publishing as its status shows it (never its key), or null when it has none. */
export function ingestJson(status: IngestStatus | undefined) {
  if (!status) return null;
  const stats = status.stats;
  return {
    protocol: status.protocol ?? null,
    connected: status.connected,
    connected_since: status.connectedSince === undefined ? null : rfc3339(status.connectedSince),
    reconnects: status.reconnects,
    bitrate_kbps: stats?.kbps === undefined ? null : Math.round(stats.kbps),
    width: stats?.width ?? null,
    height: stats?.height ?? null,
    fps: stats?.fps ?? null,
    video_codec: stats?.videoCodec ?? null,
    audio_codec: stats?.audioCodec ?? null,
  };
}

/** The ready publish URLs of a stream (admin only: they carry its stream key). */
export function publishUrlsJson(urls: PublishUrls) {
  return {
    rtmp_url: urls.rtmp.url,
    rtmp_server: urls.rtmp.server,
    stream_key: urls.rtmp.streamKey,
    srt_url: urls.srt?.url ?? null,
    srt_port: urls.srt?.port ?? null,
  };
}

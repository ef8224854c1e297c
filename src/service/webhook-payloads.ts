import { rfc3339 } from '../core/timestamp.js';
import type { StreamEventMap, StreamEvents } from './stream-events.js';

/** What a learning platform is told about (README: Webhooks). */
export type WebhookEventType = 'stream.started' | 'stream.ended' | 'viewer.joined' | 'viewer.left';

/** One event before it is numbered and sent: never a session id or a secret. */
export interface WebhookEventInput {
  readonly type: WebhookEventType;
  /** When it happened (ms). */
  readonly occurredAt: number;
  /** Events of one stream are delivered in order; different streams in parallel. */
  readonly recordingId: string;
  readonly data: Readonly<Record<string, string | number | boolean>>;
}

/** An event with its delivery id (the same on every attempt, so a receiver can drop repeats). */
export interface WebhookEvent extends WebhookEventInput {
  readonly id: string;
}

/**
 * Turns the service's stream and viewer events into webhook events for `send`; returns a
 * function that stops listening.
 */
export function forwardStreamEvents(
  events: StreamEvents,
  send: (event: WebhookEventInput) => void,
): () => void {
  const started = (e: StreamEventMap['stream_started'][0]) =>
    send({
      type: 'stream.started',
      occurredAt: e.at,
      recordingId: e.recordingId,
      data: { recording_id: e.recordingId, max_viewers: e.maxViewers },
    });
  const ended = (e: StreamEventMap['stream_ended'][0]) =>
    send({
      type: 'stream.ended',
      occurredAt: e.at,
      recordingId: e.recordingId,
      data: {
        recording_id: e.recordingId,
        started_at: rfc3339(e.startedAt),
        duration_seconds: seconds(e.at - e.startedAt),
        peak_viewers: e.peakViewers,
      },
    });
  const joined = (e: StreamEventMap['viewer_joined'][0]) =>
    send({
      type: 'viewer.joined',
      occurredAt: e.at,
      recordingId: e.recordingId,
      data: {
        recording_id: e.recordingId,
        viewer_id: e.viewerId,
        anonymous: e.anonymous,
        initial_bitrate: e.profile,
      },
    });
  const left = (e: StreamEventMap['viewer_left'][0]) => {
    // An idle viewer, or one still there when its stream was removed, really went away at its
    // last request; counting the wait that found it out would inflate attendance.
    const leftAt = e.reason === 'left' ? e.at : e.lastSeenAt;
    send({
      type: 'viewer.left',
      occurredAt: e.at,
      recordingId: e.recordingId,
      data: {
        recording_id: e.recordingId,
        viewer_id: e.viewerId,
        reason: e.reason,
        joined_at: rfc3339(e.joinedAt),
        last_seen_at: rfc3339(e.lastSeenAt),
        duration_seconds: seconds(leftAt - e.joinedAt),
        segments_received: e.segmentsReceived,
        bytes_received: e.bytesReceived,
      },
    });
  };
  events.on('stream_started', started);
  events.on('stream_ended', ended);
  events.on('viewer_joined', joined);
  events.on('viewer_left', left);
  return () => {
    events.off('stream_started', started);
    events.off('stream_ended', ended);
    events.off('viewer_joined', joined);
    events.off('viewer_left', left);
  };
}

/** The JSON body of one attempt; `sent_at` is inside it so the signature covers it. */
export function webhookBody(event: WebhookEvent, sentAt: number): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    occurred_at: rfc3339(event.occurredAt),
    sent_at: rfc3339(sentAt),
    data: event.data,
  });
}

function seconds(ms: number): number {
  return Math.max(0, Math.round(ms / 1000));
}

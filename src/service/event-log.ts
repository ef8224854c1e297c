import type { StreamEvents } from './stream-events.js';

/** How often the log says a stream is full, at most. */
export const EVENT_LOG_DEFAULTS = {
  /** A full stream refuses every new player; one line per stream per minute says so. */
  capReachedEveryMs: 60_000,
} as const;

export type EventLogSettings = { readonly [K in keyof typeof EVENT_LOG_DEFAULTS]: number };

/** The part of a pino logger the event log writes with. */
export interface EventLogger {
  info(detail: object, message: string): void;
  warn(detail: object, message: string): void;
  debug(detail: object, message: string): void;
}

/**
 * Writes the service's events to the log: a line at info when a stream starts or ends, when it
 * is full (once per `capReachedEveryMs`, counting the refusals in between), viewers at debug.
 */
export function logStreamEvents(
  events: StreamEvents,
  log: EventLogger,
  settings: EventLogSettings = EVENT_LOG_DEFAULTS,
): void {
  /** Per full stream: when its last line was written and the refusals since. */
  const capLines = new Map<string, { at: number; refused: number }>();
  events.on('stream_started', ({ recordingId, maxViewers }) => {
    capLines.delete(recordingId);
    log.info({ recordingId, maxViewers }, 'stream started');
  });
  events.on('stream_ended', ({ recordingId, startedAt, at, peakViewers }) => {
    capLines.delete(recordingId);
    log.info(
      { recordingId, peakViewers, durationSeconds: Math.round((at - startedAt) / 1000) },
      'stream ended',
    );
  });
  events.on('viewer_cap_reached', ({ recordingId, maxViewers, at }) => {
    const last = capLines.get(recordingId);
    if (last && at - last.at < settings.capReachedEveryMs) {
      last.refused++;
      return;
    }
    capLines.set(recordingId, { at, refused: 0 });
    log.warn(
      { recordingId, maxViewers, refusedSinceLastLine: last?.refused ?? 0 },
      'viewer cap reached: new viewers are refused',
    );
  });
  events.on('viewer_joined', ({ recordingId, viewerId, anonymous, profile }) =>
    log.debug({ recordingId, viewerId, anonymous, profile }, 'viewer joined'),
  );
  events.on('viewer_left', ({ recordingId, viewerId, reason, segmentsReceived }) =>
    log.debug({ recordingId, viewerId, reason, segmentsReceived }, 'viewer left'),
  );
}

/** Encoder events worth a warning; the others are at info. */
const ENCODER_WARNINGS = new Set(['restarting', 'behind']);

/**
 * Writes a built-in encoder's event (started, restarted, restarting, behind, caught_up,
 * stopped, finished) as one line; a crash and falling behind real time are warnings.
 */
export function logEncoderEvent(
  log: EventLogger,
  event: string,
  detail: Record<string, unknown>,
): void {
  const message = `encoder ${event.replace('_', ' ')}`;
  if (ENCODER_WARNINGS.has(event)) log.warn(detail, message);
  else log.info(detail, message);
}

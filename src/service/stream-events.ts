import { EventEmitter } from 'node:events';
import type { ProfileName } from '../core/profiles.js';

/** Why a viewer's session ended. */
export type LeaveReason = 'left' | 'idle' | 'stream_removed';

/** What happened to streams and viewers, for logs, webhooks and anyone else who listens. */
export interface StreamEventMap {
  stream_started: [{ recordingId: string; maxViewers: number; at: number }];
  stream_ended: [{ recordingId: string; at: number; peakViewers: number }];
  viewer_joined: [
    {
      recordingId: string;
      viewerId: string;
      anonymous: boolean;
      profile: ProfileName;
      at: number;
    },
  ];
  viewer_left: [
    {
      recordingId: string;
      viewerId: string;
      reason: LeaveReason;
      joinedAt: number;
      at: number;
      segmentsReceived: number;
      bytesReceived: number;
    },
  ];
  /** A join or a new player was refused because the stream is at its cap. */
  viewer_cap_reached: [{ recordingId: string; maxViewers: number; at: number }];
}

/**
 * The service's events. A listener that throws must not break the service, so each listener
 * runs guarded and its error goes to the `listener_error` handler.
 */
export class StreamEvents extends EventEmitter<StreamEventMap> {
  constructor(private readonly onListenerError: (error: unknown) => void = () => {}) {
    super();
  }

  /** Emits `event`; a listener's error is reported, never thrown into the caller. */
  publish<K extends keyof StreamEventMap>(event: K, ...args: StreamEventMap[K]): void {
    if (this.listenerCount(event) === 0) return;
    try {
      (this.emit as (event: K, ...args: StreamEventMap[K]) => boolean)(event, ...args);
    } catch (error) {
      this.onListenerError(error);
    }
  }
}

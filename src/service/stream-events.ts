import { EventEmitter } from 'node:events';
import type { ProfileName } from '../core/profiles.js';

/** Why a viewer's session ended. */
export type LeaveReason = 'left' | 'idle' | 'stream_removed';

/** What happened to streams and viewers, for logs, webhooks and anyone else who listens. */
export interface StreamEventMap {
  stream_started: [{ recordingId: string; maxViewers: number; at: number }];
  stream_ended: [{ recordingId: string; startedAt: number; at: number; peakViewers: number }];
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
      /** The viewer's last request: for an idle viewer, when it really went away. */
      lastSeenAt: number;
      at: number;
      segmentsReceived: number;
      bytesReceived: number;
    },
  ];
  /** A join or a new player was refused because the stream is at its cap. */
  viewer_cap_reached: [{ recordingId: string; maxViewers: number; at: number }];
  /**
   * A segment entered its rendition's playlist; `lagMs` is how long after its bytes arrived
   * (ingest waits for the playlist entry), absent when it came by another way.
   */
  segment_published: [
    {
      recordingId: string;
      profile: ProfileName;
      sequence: number;
      durationSec: number;
      at: number;
      lagMs: number | undefined;
    },
  ];
}

/**
 * The service's events. A listener that throws (or whose promise rejects) must neither break
 * the service nor keep the other listeners from hearing the event, so each listener runs on its
 * own guard and its error goes to `onListenerError`.
 */
export class StreamEvents extends EventEmitter<StreamEventMap> {
  constructor(private readonly onListenerError: (error: unknown) => void = () => {}) {
    super();
  }

  /** Calls every listener of `event`; a listener's error is reported, never thrown into the caller. */
  publish<K extends keyof StreamEventMap>(event: K, ...args: StreamEventMap[K]): void {
    // EventEmitter.emit stops at the first listener that throws; rawListeners keeps `once`
    // wrappers, so calling one still removes it.
    const listeners = this.rawListeners(event) as Array<(...a: StreamEventMap[K]) => unknown>;
    for (const listener of listeners) {
      try {
        const result = listener.apply(this, args);
        // An async listener's rejection would otherwise be unhandled and end the process.
        if (result instanceof Promise) result.catch((error) => this.report(error));
      } catch (error) {
        this.report(error);
      }
    }
  }

  private report(error: unknown): void {
    try {
      this.onListenerError(error);
    } catch {
      // The error handler itself failed (a closed logger, say); the service goes on regardless.
    }
  }
}

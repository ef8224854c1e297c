import type { MediaInfo } from '../core/media-info.js';
import type { ProfileName } from '../core/profiles.js';
import type { InitSection, Segment } from '../core/segment.js';
import type { UsageOp } from './usage.js';

/**
 * What the primary and its HLS workers say to each other over the cluster's IPC channel
 * (`serialization: 'advanced'`, so segment bytes cross as they are). Every type starts with
 * `vtp:` so nothing of Node's own cluster traffic is ever taken for one.
 */

/** A viewer seated on the primary, as a worker needs it: the session id its requests name. */
export interface ReplicaSeat {
  readonly viewerId: string;
  readonly sessionId: string;
  readonly profile: ProfileName;
}

/**
 * A stream as the primary holds it, its segments apart: sent at a stream's start and to a
 * starting worker, followed by one `vtp:segment` per segment its windows hold (a DVR window can
 * hold gigabytes: no single message carries them all).
 */
export interface ReplicaStreamMessage {
  readonly type: 'vtp:stream';
  readonly recordingId: string;
  readonly incarnation: string;
  readonly startedAt: number;
  readonly endedAt: number | undefined;
  /** The primary's retention of this stream (its DVR window included). */
  readonly retentionMs: number;
  readonly dvrSeconds: number;
  readonly media: Readonly<Partial<Record<ProfileName, MediaInfo>>>;
  readonly seats: readonly ReplicaSeat[];
}

/** Messages the primary sends to a worker. */
export type PrimaryMessage =
  | ReplicaStreamMessage
  | {
      readonly type: 'vtp:segment';
      readonly recordingId: string;
      readonly incarnation: string;
      readonly segment: Segment;
      /** The init section the segment names (small; sent each time, so none is ever missing). */
      readonly init: InitSection | undefined;
      readonly targetDurationSec: number;
    }
  | {
      readonly type: 'vtp:ended';
      readonly recordingId: string;
      readonly incarnation: string;
      readonly at: number;
    }
  | { readonly type: 'vtp:retired'; readonly recordingId: string }
  | {
      readonly type: 'vtp:seat';
      readonly recordingId: string;
      readonly incarnation: string;
      readonly seat: ReplicaSeat;
    }
  | {
      readonly type: 'vtp:leave';
      readonly recordingId: string;
      readonly incarnation: string;
      readonly viewerId: string;
    }
  | {
      readonly type: 'vtp:media';
      readonly recordingId: string;
      readonly incarnation: string;
      readonly profile: ProfileName;
      readonly info: MediaInfo;
    }
  | { readonly type: 'vtp:cdn'; readonly baseUrl: string | undefined }
  /**
   * The snapshot is complete: listen, and pass to `origin` what the replica does not serve,
   * proving each request a worker's with `proxySecret` (forwarded-for.ts).
   */
  | {
      readonly type: 'vtp:ready';
      readonly origin: { readonly host: string; readonly port: number };
      readonly proxySecret: string;
    }
  /** Send what is pending now, then answer `vtp:flushed` with the same id. */
  | { readonly type: 'vtp:flush'; readonly id: number }
  /** Stop taking connections, finish what is in flight, send the last counts and exit. */
  | { readonly type: 'vtp:drain'; readonly deadlineMs: number };

/** Messages a worker sends to the primary. */
export type WorkerMessage =
  | { readonly type: 'vtp:hello' }
  | { readonly type: 'vtp:listening'; readonly port: number }
  | { readonly type: 'vtp:usage'; readonly ops: readonly UsageOp[] }
  | { readonly type: 'vtp:flushed'; readonly id: number };

/** What a message costs beyond its media bytes (its fields, serialised): a generous guess. */
const MESSAGE_OVERHEAD_BYTES = 1024;
/** What one seat of a stream message costs serialised (ids of up to 128 characters). */
const SEAT_BYTES = 320;

/**
 * About how many bytes `message` takes on the IPC channel: its segment and init bytes, seats,
 * and a fixed allowance for the rest. Counting them exactly would mean serialising twice.
 */
export function messageBytes(message: PrimaryMessage): number {
  switch (message.type) {
    case 'vtp:segment':
      return (
        MESSAGE_OVERHEAD_BYTES +
        message.segment.data.byteLength +
        (message.init?.data.byteLength ?? 0)
      );
    case 'vtp:stream':
      return MESSAGE_OVERHEAD_BYTES + message.seats.length * SEAT_BYTES;
    default:
      return MESSAGE_OVERHEAD_BYTES;
  }
}

/** Whether an IPC message is one of ours (Node's cluster sends its own on the same channel). */
export function isVtpMessage(message: unknown): message is { readonly type: string } {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as { type?: unknown }).type === 'string' &&
    (message as { type: string }).type.startsWith('vtp:')
  );
}

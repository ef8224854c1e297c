import { messageBytes, type PrimaryMessage } from './replica-messages.js';

export interface IpcOutboxOptions {
  /** Writes one message to the channel; `taken` is called once the channel took it. */
  readonly send: (message: PrimaryMessage, taken: () => void) => void;
  /** Bytes written and not yet taken, past which the next message waits (one always goes). */
  readonly maxInFlightBytes: number;
  /** Bytes of updates not yet taken past which the receiver counts as stuck. */
  readonly maxUnsentBytes: number;
  /** The receiver fell behind by `unsentBytes`: called once, after which nothing more is sent. */
  readonly onOverflow: (unsentBytes: number) => void;
}

/** A message waiting in the outbox, with what it costs the channel. */
interface Waiting {
  readonly message: PrimaryMessage;
  readonly bytes: number;
  /** Whether it counts against `maxUnsentBytes` (updates do; a snapshot is bounded by itself). */
  readonly counted: boolean;
}

/**
 * What the primary has to tell one worker, in order, written to its IPC channel a few at a time:
 * Node serialises a message when it is sent and holds it until the channel takes it, so sending
 * a snapshot (or a backlog) at once would copy all of it into memory. Messages go while fewer
 * than `maxInFlightBytes` wait for the channel; an update pushed while earlier ones still wait
 * goes after them, so a worker applies its snapshot before any later change. A worker that leaves
 * more than `maxUnsentBytes` of updates unread is reported once through `onOverflow`.
 */
export class IpcOutbox {
  private waiting: (Waiting | undefined)[] = [];
  private head = 0;
  private inFlightBytes = 0;
  private unsentCounted = 0;
  private pumping = false;
  private closed = false;

  constructor(private readonly options: IpcOutboxOptions) {}

  /** Bytes pushed and not yet taken by the channel (written or still waiting here). */
  get unsentBytes(): number {
    let bytes = this.inFlightBytes;
    for (let i = this.head; i < this.waiting.length; i++) bytes += this.waiting[i]?.bytes ?? 0;
    return bytes;
  }

  /**
   * Queues `message` after everything pushed before it; `counted` false for a snapshot's part,
   * which is bounded by the windows it copies.
   */
  push(message: PrimaryMessage, counted = true): void {
    if (this.closed) return;
    const bytes = messageBytes(message);
    this.waiting.push({ message, bytes, counted });
    if (counted) {
      this.unsentCounted += bytes;
      if (this.unsentCounted > this.options.maxUnsentBytes) {
        const unsent = this.unsentBytes;
        this.close();
        this.options.onOverflow(unsent);
        return;
      }
    }
    this.pump();
  }

  /** Drops what waits and sends nothing more (the worker is gone or being replaced). */
  close(): void {
    this.closed = true;
    this.waiting = [];
    this.head = 0;
  }

  private pump(): void {
    // A `taken` called synchronously re-enters here: the loop below already goes on.
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed && this.head < this.waiting.length) {
        const next = this.waiting[this.head] as Waiting;
        if (
          this.inFlightBytes > 0 &&
          this.inFlightBytes + next.bytes > this.options.maxInFlightBytes
        ) {
          break;
        }
        this.waiting[this.head++] = undefined;
        this.inFlightBytes += next.bytes;
        let taken = false;
        this.options.send(next.message, () => {
          if (taken) return;
          taken = true;
          this.inFlightBytes -= next.bytes;
          if (next.counted) this.unsentCounted -= next.bytes;
          this.pump();
        });
      }
      // Sent entries are dropped now and then, not one by one (an array shift is linear).
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting = this.waiting.slice(this.head);
        this.head = 0;
      }
    } finally {
      this.pumping = false;
    }
  }
}

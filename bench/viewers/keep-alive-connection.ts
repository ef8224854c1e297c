/** One keep-alive HTTP/1.1 connection over a raw socket: one GET at a time, reconnecting as needed. */
import { connect, type Socket } from 'node:net';
import Denque from 'denque';
import { getRequest, type ResponseEvents, type ResponseHead, ResponseParser } from './http-wire.js';

export interface RawResponse {
  readonly status: number;
  /** Body bytes received (counted, not kept, unless the body was asked for). */
  readonly bytes: number;
  readonly body: Buffer | undefined;
}

/** Issues GETs on an origin; a connection of its own or a shared pool. */
export interface Requester {
  request(path: string, keepBody: boolean): Promise<RawResponse>;
  close(): void;
}

/** A request that failed below HTTP; `kind` names it in the error table (ECONNRESET, timeout…). */
export class RequestError extends Error {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

/** Connection-level tallies shared by every connection of one generator. */
export interface ConnectionCounters {
  connects: number;
}

// Every read is parsed before the next one, so all sockets of this process can share one buffer:
// no allocation per read, whatever the bytes per second.
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

interface Pending {
  readonly resolve: (response: RawResponse) => void;
  readonly reject: (error: Error) => void;
  readonly keepBody: boolean;
  readonly deadline: number;
  readonly chunks: Buffer[];
  head: ResponseHead | undefined;
  bytes: number;
}

/** Fails requests past their deadline; one sweep per process instead of a timer per request. */
export class RequestWatchdog {
  private readonly busy = new Set<KeepAliveConnection>();
  private readonly timer: NodeJS.Timeout;

  constructor(readonly timeoutMs: number) {
    this.timer = setInterval(() => this.sweep(), Math.min(250, timeoutMs / 4));
  }

  add(connection: KeepAliveConnection): void {
    this.busy.add(connection);
  }

  delete(connection: KeepAliveConnection): void {
    this.busy.delete(connection);
  }

  private sweep(): void {
    const now = performance.now();
    for (const connection of this.busy) connection.expire(now);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export class KeepAliveConnection implements Requester, ResponseEvents {
  private socket: Socket | undefined;
  private readonly parser = new ResponseParser(this);
  private pending: Pending | undefined;
  private readonly host: string;

  constructor(
    private readonly port: number,
    private readonly watchdog: RequestWatchdog,
    private readonly counters: ConnectionCounters,
  ) {
    this.host = `127.0.0.1:${port}`;
  }

  request(path: string, keepBody: boolean): Promise<RawResponse> {
    if (this.pending) return Promise.reject(new Error('one request at a time per connection'));
    return new Promise<RawResponse>((resolve, reject) => {
      this.pending = {
        resolve,
        reject,
        keepBody,
        deadline: performance.now() + this.watchdog.timeoutMs,
        chunks: [],
        head: undefined,
        bytes: 0,
      };
      this.watchdog.add(this);
      this.parser.reset();
      (this.socket ?? this.open()).write(getRequest(path, this.host));
    });
  }

  private open(): Socket {
    this.counters.connects++;
    const socket = connect({
      host: '127.0.0.1',
      port: this.port,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        // The bytes land in READ_BUFFER itself (typed here as a plain Uint8Array).
        callback: (bytes) => {
          this.read(socket, READ_BUFFER, bytes);
          return true;
        },
      },
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.fail(socket, new RequestError(error.code ?? error.name, error.message));
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      // A body that runs to the close ends here; anything else was cut short.
      if (this.pending && !this.parser.close()) {
        this.rejectPending(new RequestError('closed', 'the server closed the connection'));
      }
    });
    this.socket = socket;
    return socket;
  }

  private read(socket: Socket, buffer: Buffer, bytes: number): void {
    if (socket !== this.socket) return;
    if (!this.pending) {
      this.fail(socket, new RequestError('unexpected data', 'bytes with no request in flight'));
      return;
    }
    try {
      this.parser.feed(buffer, 0, bytes);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.fail(socket, new RequestError('bad response', message));
    }
  }

  onHead(head: ResponseHead): void {
    if (this.pending) this.pending.head = head;
  }

  onBody(buffer: Buffer, start: number, end: number): void {
    const pending = this.pending;
    if (!pending) return;
    pending.bytes += end - start;
    // Copy: the read buffer is shared and reused.
    if (pending.keepBody) pending.chunks.push(Buffer.from(buffer.subarray(start, end)));
  }

  onEnd(): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    this.watchdog.delete(this);
    const status = pending.head?.status ?? 0;
    const body = pending.keepBody ? Buffer.concat(pending.chunks) : undefined;
    if (pending.head?.close) this.drop();
    pending.resolve({ status, bytes: pending.bytes, body });
  }

  /** Called by the watchdog: fails the request if it is past its deadline. */
  expire(now: number): void {
    if (this.pending && now >= this.pending.deadline && this.socket) {
      this.fail(this.socket, new RequestError('timeout', 'no full response in time'));
    }
  }

  /** Drops `socket` and fails the request in flight, unless `socket` was already dropped. */
  private fail(socket: Socket, error: RequestError): void {
    if (socket !== this.socket) {
      socket.destroy(); // late news of a socket already dropped: not the current request's
      return;
    }
    this.drop();
    this.rejectPending(error);
  }

  private rejectPending(error: RequestError): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = undefined;
    this.watchdog.delete(this);
    pending.reject(error);
  }

  private drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
  }

  /** Closes the socket; a request in flight fails with `closed`. */
  close(): void {
    const socket = this.socket;
    if (socket) this.fail(socket, new RequestError('closed', 'the generator closed'));
  }
}

/** `size` connections shared by many viewers (the bench's `--connections N`); requests queue. */
export class ConnectionPool implements Requester {
  private readonly idle: KeepAliveConnection[] = [];
  private readonly all: KeepAliveConnection[] = [];
  private readonly waiting = new Denque<{
    resolve: (connection: KeepAliveConnection) => void;
    reject: (error: Error) => void;
  }>();

  constructor(
    private readonly port: number,
    private readonly size: number,
    private readonly watchdog: RequestWatchdog,
    private readonly counters: ConnectionCounters,
  ) {}

  private acquire(): KeepAliveConnection | Promise<KeepAliveConnection> {
    const ready = this.idle.pop();
    if (ready) return ready;
    if (this.all.length < this.size) {
      const connection = new KeepAliveConnection(this.port, this.watchdog, this.counters);
      this.all.push(connection);
      return connection;
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Hands the connection to the longest-waiting request, or parks it. */
  private release(connection: KeepAliveConnection): void {
    const next = this.waiting.shift();
    if (next) next.resolve(connection);
    else this.idle.push(connection);
  }

  async request(path: string, keepBody: boolean): Promise<RawResponse> {
    const connection = await this.acquire();
    try {
      return await connection.request(path, keepBody);
    } finally {
      this.release(connection);
    }
  }

  close(): void {
    for (const connection of this.all) connection.close();
    for (let next = this.waiting.shift(); next; next = this.waiting.shift()) {
      next.reject(new RequestError('closed', 'the generator closed'));
    }
  }
}

/**
 * The load generator's HTTP/1.1 wire format: one GET request line, and a response parser that
 * frames bodies by Content-Length, chunked coding or connection close.
 *
 * Hand-written on purpose: the bench compares the origins' CPU per viewer, and a general client
 * (fetch/undici) spends more CPU per request than the origins do, which starved the origins of
 * the shared cores and blurred the comparison. This parser does only what a GET needs, counts
 * body bytes without copying them (unless the caller keeps the body, as for playlists), and
 * allocates nothing per read beyond the response head.
 */

/** The request: GET with the Host header HTTP/1.1 requires; keep-alive is HTTP/1.1's default. */
export function getRequest(path: string, host: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: vtp-bench\r\nAccept: */*\r\n\r\n`;
}

export interface ResponseHead {
  readonly status: number;
  /** Content-Length, when the response gives one (and is not chunked). */
  readonly contentLength: number | undefined;
  readonly chunked: boolean;
  /** The server closes the connection after this response. */
  readonly close: boolean;
}

/** What the parser reports while it reads one response. */
export interface ResponseEvents {
  onHead(head: ResponseHead): void;
  /** Body bytes in `buffer[start, end)`; the buffer is reused after the call returns. */
  onBody(buffer: Buffer, start: number, end: number): void;
  onEnd(): void;
}

/** A response the parser cannot read; the connection is unusable after it. */
export class WireError extends Error {}

const CR = 13;
const LF = 10;
const MAX_HEAD_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailer' | 'eof';

function parseHead(text: string): ResponseHead & { interim: boolean } {
  const lines = text.split('\r\n');
  const statusLine = lines[0] ?? '';
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match) throw new WireError(`bad status line "${statusLine.slice(0, 60)}"`);
  const status = Number(match[1]);
  let contentLength: number | undefined;
  let chunked = false;
  let close = statusLine.startsWith('HTTP/1.0');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line
      .slice(colon + 1)
      .trim()
      .toLowerCase();
    if (name === 'content-length') {
      contentLength = Number(value);
      if (!Number.isSafeInteger(contentLength) || contentLength < 0) {
        throw new WireError(`bad content-length "${value}"`);
      }
    } else if (name === 'transfer-encoding') {
      chunked = value.split(',').some((coding) => coding.trim() === 'chunked');
    } else if (name === 'connection') {
      if (value.split(',').some((token) => token.trim() === 'close')) close = true;
      else if (value.includes('keep-alive')) close = false;
    }
  }
  // RFC 9112 6.3: chunked wins over Content-Length.
  if (chunked) contentLength = undefined;
  return { status, contentLength, chunked, close, interim: status >= 100 && status < 200 };
}

/** Reads the responses to GETs sent one at a time on one connection. */
export class ResponseParser {
  private state: State = 'head';
  private pendingHead: Buffer | undefined;
  private remaining = 0;
  private line = '';

  constructor(private readonly events: ResponseEvents) {}

  /** Ready for the next response (after `onEnd`). */
  reset(): void {
    this.state = 'head';
    this.pendingHead = undefined;
    this.line = '';
  }

  /** The connection closed: ends a close-delimited body; false if a response was cut short. */
  close(): boolean {
    if (this.state !== 'eof') return false;
    this.reset();
    this.events.onEnd();
    return true;
  }

  /** Parses `buffer[start, end)`; throws WireError on a malformed response. */
  feed(buffer: Buffer, start: number, end: number): void {
    let at = start;
    while (at < end) {
      switch (this.state) {
        case 'head':
          at = this.readHead(buffer, at, end);
          break;
        case 'length': {
          const take = Math.min(this.remaining, end - at);
          this.events.onBody(buffer, at, at + take);
          at += take;
          this.remaining -= take;
          if (this.remaining === 0) this.finish();
          break;
        }
        case 'eof':
          this.events.onBody(buffer, at, end);
          at = end;
          break;
        case 'chunk-size':
        case 'chunk-end':
        case 'trailer':
          at = this.readLine(buffer, at, end);
          break;
        case 'chunk-data': {
          const take = Math.min(this.remaining, end - at);
          this.events.onBody(buffer, at, at + take);
          at += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = 'chunk-end';
          break;
        }
      }
    }
  }

  private finish(): void {
    this.reset();
    this.events.onEnd();
  }

  private readHead(buffer: Buffer, at: number, end: number): number {
    const fresh = buffer.subarray(at, end);
    const joined = this.pendingHead ? Buffer.concat([this.pendingHead, fresh]) : fresh;
    // Search from just before the new bytes so a terminator split across reads is found.
    const from = this.pendingHead ? Math.max(0, this.pendingHead.length - 3) : 0;
    const found = joined.indexOf(HEAD_END, from);
    if (found < 0) {
      if (joined.length > MAX_HEAD_BYTES) throw new WireError('response head too large');
      this.pendingHead = Buffer.from(joined); // copy: `buffer` is reused after this read
      return end;
    }
    const headLength = found + HEAD_END.length;
    const consumedHere = headLength - (this.pendingHead?.length ?? 0);
    const head = parseHead(joined.toString('latin1', 0, found));
    this.pendingHead = undefined;
    if (head.interim) return at + consumedHere; // 1xx: the real response follows
    this.events.onHead(head);
    if (head.status === 204 || head.status === 304) {
      this.finish();
    } else if (head.chunked) {
      this.state = 'chunk-size';
    } else if (head.contentLength !== undefined) {
      this.remaining = head.contentLength;
      this.state = 'length';
      if (this.remaining === 0) this.finish();
    } else {
      this.state = 'eof';
    }
    return at + consumedHere;
  }

  /** Chunk-size lines, the CRLF after chunk data, and trailer lines. */
  private readLine(buffer: Buffer, at: number, end: number): number {
    const lf = buffer.indexOf(LF, at);
    if (lf < 0 || lf >= end) {
      this.line += buffer.toString('latin1', at, end);
      if (this.line.length > 4096) throw new WireError('chunk line too long');
      return end;
    }
    let text = this.line + buffer.toString('latin1', at, lf);
    this.line = '';
    if (text.charCodeAt(text.length - 1) === CR) text = text.slice(0, -1);
    if (this.state === 'chunk-end') {
      if (text !== '') throw new WireError('no CRLF after chunk data');
      this.state = 'chunk-size';
    } else if (this.state === 'chunk-size') {
      const size = Number.parseInt(text.split(';', 1)[0] ?? '', 16);
      if (!Number.isSafeInteger(size) || size < 0) throw new WireError(`bad chunk size "${text}"`);
      if (size === 0) this.state = 'trailer';
      else {
        this.remaining = size;
        this.state = 'chunk-data';
      }
    } else if (text === '') {
      this.finish(); // the empty line after the last chunk's trailers
    }
    return lf + 1;
  }
}

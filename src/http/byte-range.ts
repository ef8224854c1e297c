import type { IncomingHttpHeaders } from 'node:http';
import rangeParser from 'range-parser';
import { DistributionError } from '../core/errors.js';

/** A Range no byte of the object satisfies (answered 416 with `Content-Range: bytes *\/size`). */
export class RangeNotSatisfiableError extends DistributionError {
  constructor(size: number) {
    super(
      'RANGE_NOT_SATISFIABLE',
      `the range asks for no byte of this ${size}-byte object`,
      'range',
    );
  }
}

/** One byte range to send, both ends inclusive. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * The byte range a request asks of an object of `size` bytes, or undefined for the whole object:
 * no Range, a malformed one, a unit other than bytes, several ranges (sent whole, as `send`
 * does), or an If-Range that is not the object's current strong ETag. Throws
 * RangeNotSatisfiableError when the range lies past the end.
 */
export function requestedRange(
  headers: IncomingHttpHeaders,
  size: number,
  etag: string | undefined,
): ByteRange | undefined {
  const header = headers.range;
  if (header === undefined) return undefined;
  const ifRange = headers['if-range'];
  // If-Range compares strongly; a date never matches, as objects carry no Last-Modified.
  if (ifRange !== undefined && (etag === undefined || ifRange !== etag)) return undefined;
  const ranges = rangeParser(size, header, { combine: true });
  if (ranges === -1) throw new RangeNotSatisfiableError(size);
  if (ranges === -2 || ranges.type !== 'bytes' || ranges.length !== 1) return undefined;
  return ranges[0];
}

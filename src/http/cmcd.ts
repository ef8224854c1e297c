import type { IncomingHttpHeaders } from 'node:http';
import { type CmcdData, fromCmcdHeaders, fromCmcdQuery } from '@svta/cml-cmcd';
import type { ClientReport } from '../service/hls-delivery.js';

/**
 * What a player tells about itself on a request: `?session=` and Common Media Client Data
 * (the `CMCD` query parameter or the CMCD-* headers, decoded by @svta/cml-cmcd). CMCD is
 * telemetry, so a malformed value is ignored rather than failing the media request.
 */
export function clientReport(
  query: { session?: string | undefined; CMCD?: string | undefined },
  headers: IncomingHttpHeaders,
  client?: string,
): ClientReport {
  const cmcd = decode(query.CMCD, headers);
  return {
    client,
    sessionId: query.session ?? (typeof cmcd.sid === 'string' ? cmcd.sid : undefined),
    bufferLengthMs: finite(cmcd.bl),
    throughputKbps: finite(cmcd.mtp),
    // `bs` is a flag key: present (true) on the first request after the buffer ran dry. A request
    // with CMCD but without it says the player did not starve; one without CMCD says nothing.
    bufferStarvation: Object.keys(cmcd).length > 0 ? cmcd.bs === true : undefined,
  };
}

function decode(queryValue: string | undefined, headers: IncomingHttpHeaders): CmcdData {
  try {
    if (queryValue !== undefined) return fromCmcdQuery(new URLSearchParams({ CMCD: queryValue }));
    const cmcdHeaders: Record<string, string> = {};
    for (const name of ['cmcd-request', 'cmcd-object', 'cmcd-status', 'cmcd-session']) {
      const value = headers[name];
      if (typeof value === 'string') cmcdHeaders[name] = value;
    }
    return Object.keys(cmcdHeaders).length > 0 ? fromCmcdHeaders(cmcdHeaders) : {};
  } catch {
    return {};
  }
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

import type { IncomingHttpHeaders } from 'node:http';
import { brotliCompressSync, gzipSync, constants as zlib } from 'node:zlib';
import { Negotiator } from '@fastify/accept-negotiator';
import { PLAYLIST_COMPRESSION } from '../http/routes/hls.js';

/** A playlist body as sent, and the Content-Encoding it went out in (none: as written). */
export interface EncodedPlaylist {
  readonly body: Buffer;
  readonly encoding: 'gzip' | 'br' | undefined;
}

/** The HLS routes' compression (@fastify/compress with these encodings, gzip first). */
const negotiator = new Negotiator<'gzip' | 'br'>({ supportedValues: ['gzip', 'br'] });

const BROTLI = {
  params: {
    [zlib.BROTLI_PARAM_QUALITY]: PLAYLIST_COMPRESSION.brotliQuality,
    [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
  },
};

/**
 * A worker's playlist body, compressed as the primary's HLS routes compress it (the same
 * negotiation, threshold and settings), so a player sees one server: `*` and `x-gzip` read as
 * gzip, `X-No-Compression` and bodies under the threshold go as written.
 */
export function encodePlaylist(text: string, headers: IncomingHttpHeaders): EncodedPlaylist {
  const body = Buffer.from(text);
  const accepted = headers['accept-encoding'];
  if (
    accepted === undefined ||
    headers['x-no-compression'] !== undefined ||
    body.byteLength < PLAYLIST_COMPRESSION.thresholdBytes
  ) {
    return { body, encoding: undefined };
  }
  const encoding = negotiator.negotiate(accepted.toLowerCase().replace(/\*|x-gzip/gu, 'gzip'));
  if (encoding === 'gzip') return { body: gzipSync(body), encoding };
  if (encoding === 'br') return { body: brotliCompressSync(body, BROTLI), encoding };
  return { body, encoding: undefined };
}

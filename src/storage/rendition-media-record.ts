import type { MediaInfo } from '../core/media-info.js';
import { sha256Of } from './segment-file-record.js';

/**
 * What a rendition's media is (codecs, resolution, frame rate: what ingest's ffprobe read), kept
 * on disk as `{incarnation}/{profile}/media.json` beside the rendition's segments, so a
 * recording's VOD multivariant playlist carries CODECS and RESOLUTION once its stream has left
 * memory or the server restarted (README, "Recordings").
 *
 * Beside the segments rather than in the state database: the description belongs to the
 * recording, and there it lives and dies with the recording's files (retention, replacement by a
 * new stream of the id and deletion remove the incarnation's directory with it), whereas a
 * stream's row is the id's latest stream, replaced when the id starts again, and a database
 * moved aside as corrupt would take it while the segments stay playable. Recordings also read
 * nothing but the segment files, so it needs no other source.
 */

/** The file's name in a profile directory: not a media file name, so never a segment's. */
export const MEDIA_RECORD_NAME = 'media.json';

interface MediaRecord {
  readonly v: 1;
  readonly media: MediaInfo;
}

/**
 * RFC 6381 codec strings, comma-separated (`avc1.64001f,mp4a.40.2`): the characters they use and
 * nothing that could break out of the playlist's quoted CODECS attribute.
 */
const CODECS = /^[A-Za-z0-9.+-]{1,64}(?:,[A-Za-z0-9.+-]{1,64}){0,7}$/;

/** The record's text, with its own check (as segment records carry: a damaged one is seen). */
export function encodeMediaRecord(media: MediaInfo): string {
  const record: MediaRecord = { v: 1, media: mediaFields(media) };
  const text = JSON.stringify(record);
  return `${JSON.stringify({ ...record, check: sha256Of(Buffer.from(text)) })}\n`;
}

/** The media description in `text`, or why it is not one. */
export function decodeMediaRecord(text: string): MediaInfo | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'media record is not JSON';
  }
  if (typeof parsed !== 'object' || parsed === null || !('check' in parsed)) {
    return 'media record has no check';
  }
  const { check, ...record } = parsed as { check: unknown } & Record<string, unknown>;
  if (check !== sha256Of(Buffer.from(JSON.stringify(record)))) {
    return 'media record does not match its check';
  }
  if (record.v !== 1 || !isMediaInfo(record.media)) return 'media record has unexpected fields';
  return mediaFields(record.media);
}

/** True when `media` is a description this module writes (and a playlist can carry). */
export function isMediaInfo(media: unknown): media is MediaInfo {
  if (typeof media !== 'object' || media === null) return false;
  const m = media as Record<string, unknown>;
  return (
    (m.width === undefined || isDimension(m.width)) &&
    (m.height === undefined || isDimension(m.height)) &&
    (m.frameRate === undefined ||
      (typeof m.frameRate === 'number' && Number.isFinite(m.frameRate) && m.frameRate > 0)) &&
    (m.codecs === undefined || (typeof m.codecs === 'string' && CODECS.test(m.codecs)))
  );
}

/** Only the known fields, undefined ones left out (JSON drops them anyway). */
function mediaFields(media: MediaInfo): MediaInfo {
  return {
    ...(media.width !== undefined && { width: media.width }),
    ...(media.height !== undefined && { height: media.height }),
    ...(media.frameRate !== undefined && { frameRate: media.frameRate }),
    ...(media.codecs !== undefined && { codecs: media.codecs }),
  };
}

function isDimension(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

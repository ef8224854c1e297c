import { hash } from 'node:crypto';
import type { InitSection, Segment } from '../core/segment.js';
import type { RecordedInitMeta, RecordedSegmentMeta } from '../service/recordings.js';

/**
 * The record written beside every stored segment or init section (`{file}.json`): what start-up
 * needs to verify the bytes (size, SHA-256) and to rebuild playlists without the bytes (sequence,
 * duration, discontinuity, program date-time, init section). Its own `check` (SHA-256 of the
 * rest) catches a damaged record, which JSON alone might still parse.
 */

/**
 * What a segment's record says about it besides its bytes: what recordings read
 * (RecordedSegmentMeta, which the service layer declares and this layer may use), and where it
 * stands among its rendition's discontinuities, for restart recovery.
 */
export interface SegmentFileMeta extends RecordedSegmentMeta {
  readonly discontinuitySequence: number;
}

export type InitFileMeta = RecordedInitMeta;

export type StoredMeta = SegmentFileMeta | InitFileMeta;

export interface FileRecord {
  readonly v: 1;
  readonly file: string;
  readonly size: number;
  /** SHA-256 of the bytes, base64url (its first 22 characters are the content ETag's). */
  readonly sha256: string;
  readonly meta: StoredMeta;
}

/** A segment's record fields, from the published segment. */
export function segmentFileMeta(segment: Segment): SegmentFileMeta {
  return {
    kind: 'segment',
    sequence: segment.sequence,
    durationSec: segment.durationSec,
    discontinuity: segment.discontinuity,
    discontinuitySequence: segment.discontinuitySequence,
    programDateTime: segment.programDateTime,
    ...(segment.initId !== undefined ? { initId: segment.initId } : {}),
    ...(segment.gapBefore?.length ? { gapBefore: [...segment.gapBefore] } : {}),
    contentType: segment.contentType,
    createdAt: segment.createdAt,
  };
}

/** An init section's record fields. */
export function initFileMeta(init: InitSection, createdAt: number): InitFileMeta {
  return { kind: 'init', contentType: init.contentType, createdAt };
}

/** SHA-256 of `data` in base64url, as the record holds it. */
export function sha256Of(data: Uint8Array): string {
  return hash('sha256', data, 'base64url');
}

/** The record's text, with its own check. */
export function encodeRecord(record: FileRecord): string {
  const text = JSON.stringify(record);
  return `${JSON.stringify({ ...record, check: sha256Of(Buffer.from(text)) })}\n`;
}

/** The record in `text`, or why it is not one. */
export function decodeRecord(text: string): FileRecord | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'record is not JSON';
  }
  if (typeof parsed !== 'object' || parsed === null || !('check' in parsed)) {
    return 'record has no check';
  }
  const { check, ...record } = parsed as { check: unknown } & Record<string, unknown>;
  if (check !== sha256Of(Buffer.from(JSON.stringify(record)))) {
    return 'record does not match its check';
  }
  return isFileRecord(record) ? record : 'record has unexpected fields';
}

/*
 * Checked by hand rather than with typebox/value: loading that module adds about 170 ms to
 * every start-up, for a record of a dozen fields.
 */
function isFileRecord(
  value: Record<string, unknown>,
): value is FileRecord & Record<string, unknown> {
  return (
    value.v === 1 &&
    typeof value.file === 'string' &&
    isCount(value.size) &&
    typeof value.sha256 === 'string' &&
    /^[A-Za-z0-9_-]{43}$/.test(value.sha256) &&
    isMeta(value.meta)
  );
}

function isMeta(value: unknown): value is StoredMeta {
  if (typeof value !== 'object' || value === null) return false;
  const meta = value as Record<string, unknown>;
  if (typeof meta.contentType !== 'string' || !Number.isFinite(meta.createdAt)) return false;
  if (meta.kind === 'init') return true;
  return (
    meta.kind === 'segment' &&
    isCount(meta.sequence) &&
    isCount(meta.discontinuitySequence) &&
    typeof meta.durationSec === 'number' &&
    Number.isFinite(meta.durationSec) &&
    meta.durationSec >= 0 &&
    typeof meta.discontinuity === 'boolean' &&
    Number.isFinite(meta.programDateTime) &&
    (meta.initId === undefined || typeof meta.initId === 'string') &&
    (meta.gapBefore === undefined ||
      (Array.isArray(meta.gapBefore) &&
        meta.gapBefore.every((d) => typeof d === 'number' && Number.isFinite(d) && d >= 0)))
  );
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

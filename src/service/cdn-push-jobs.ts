import { PROFILES, type ProfileName } from '../core/profiles.js';
import { IMMUTABLE_CACHE_CONTROL, PLAYLIST_TYPE, playlistMaxAgeSec } from '../hls/http-caching.js';
import { PUSH_PRIORITY } from './cdn-push-plan.js';
import type { PushedStream, TargetMaster, TargetPlaylist } from './cdn-push-playlists.js';
import type { PushJob, PushOutcome } from './cdn-push-scheduler.js';
import { objectPath, type PushTarget, type PushTransport } from './cdn-push-target.js';

/** One request per try: TargetMirror tries a failed removal again on later sweeps. */
const DELETE_RETRIES = 0;
/** The master playlist names every rendition: it goes with the lowest one's retries and timeout. */
const MASTER_PROFILE = PROFILES.VeryLow;

/** No longer than half a target duration, as the origin's, so players polling see news. */
function playlistCache(stream: PushedStream): string {
  return `public, max-age=${playlistMaxAgeSec(stream.targetDurationSec)}`;
}

export const MASTER_FILE = 'master.m3u8';
export const MEDIA_FILE = 'index.m3u8';

/** The key (and object path) of a rendition's object at a target. */
export function renditionKey(recordingId: string, profile: ProfileName, file: string): string {
  return objectPath('live', recordingId, profile, file);
}

export function masterKey(recordingId: string): string {
  return objectPath('live', recordingId, MASTER_FILE);
}

/** What a job needs to reach its target. */
export interface JobContext {
  readonly target: PushTarget;
  readonly transport: PushTransport;
}

/**
 * Upload of a segment or init section, read from the window when it runs (the window may have
 * let it go meanwhile: nothing to send then).
 */
export function uploadJob(
  ctx: JobContext,
  upload: {
    readonly kind: 'segment' | 'init';
    readonly name: string;
    readonly priority: number;
    readonly profile: ProfileName;
    readonly recordingId: string;
  },
  read: () => { data: Uint8Array; contentType: string } | undefined,
  done: (outcome: PushOutcome) => void,
): PushJob {
  const path = renditionKey(upload.recordingId, upload.profile, upload.name);
  return {
    key: path,
    kind: upload.kind,
    priority: upload.priority,
    retries: PROFILES[upload.profile].retryAttempts,
    timeoutMs: PROFILES[upload.profile].timeoutMs,
    async attempt(signal) {
      const object = read();
      if (!object) return undefined;
      await ctx.transport.put(
        ctx.target,
        {
          path,
          body: object.data,
          contentType: object.contentType,
          cacheControl: IMMUTABLE_CACHE_CONTROL,
        },
        signal,
      );
      return object.data.byteLength;
    },
    done,
  };
}

/**
 * Upload of a media playlist: `choose` picks, when it runs, the newest playlist whose objects
 * are all at the target (or none), and `done` hears which one went.
 */
export function mediaPlaylistJob(
  ctx: JobContext,
  stream: PushedStream,
  profile: ProfileName,
  choose: () => TargetPlaylist | undefined,
  done: (outcome: PushOutcome, sent: TargetPlaylist | undefined) => void,
): PushJob {
  const path = renditionKey(stream.recordingId, profile, MEDIA_FILE);
  return playlistJob(ctx, stream, path, 'playlist', PROFILES[profile], choose, done);
}

/** Upload of the multivariant playlist `choose` picks when it runs (none: nothing to send). */
export function masterJob(
  ctx: JobContext,
  stream: PushedStream,
  choose: () => TargetMaster | undefined,
  done: (outcome: PushOutcome, sent: TargetMaster | undefined) => void,
): PushJob {
  const path = masterKey(stream.recordingId);
  return playlistJob(ctx, stream, path, 'master', MASTER_PROFILE, choose, done);
}

/** Upload to `path` of the playlist `choose` picks when it runs; `done` hears which one went. */
function playlistJob<T extends { readonly text: string }>(
  ctx: JobContext,
  stream: PushedStream,
  path: string,
  kind: 'playlist' | 'master',
  limits: { readonly retryAttempts: number; readonly timeoutMs: number },
  choose: () => T | undefined,
  done: (outcome: PushOutcome, sent: T | undefined) => void,
): PushJob {
  let sent: T | undefined;
  return {
    key: path,
    kind,
    priority: PUSH_PRIORITY.playlist,
    retries: limits.retryAttempts,
    timeoutMs: limits.timeoutMs,
    async attempt(signal) {
      sent = choose();
      if (!sent) return undefined;
      const cacheControl = playlistCache(stream);
      const body = sent.text;
      await ctx.transport.put(
        ctx.target,
        { path, body, contentType: PLAYLIST_TYPE, cacheControl },
        signal,
      );
      return Buffer.byteLength(body);
    },
    done: (outcome) => done(outcome, sent),
  };
}

/** The key of the removal of the object at `path` (its upload's key is the path itself). */
export function deleteKey(path: string): string {
  return `DELETE ${path}`;
}

/**
 * Removal of an object; `wanted` says, when it runs, whether it should still go, and `done`
 * hears how it ended (TargetMirror holds it again when it was dropped or failed).
 */
export function deleteJob(
  ctx: JobContext,
  path: string,
  profile: ProfileName | undefined,
  done: (outcome: PushOutcome) => void,
  wanted: () => boolean = () => true,
): PushJob {
  return {
    key: deleteKey(path),
    kind: 'delete',
    priority: PUSH_PRIORITY.delete,
    retries: DELETE_RETRIES,
    timeoutMs: (profile ? PROFILES[profile] : MASTER_PROFILE).timeoutMs,
    async attempt(signal) {
      if (!wanted()) return undefined;
      await ctx.transport.delete(ctx.target, path, signal);
      return 0;
    },
    done,
  };
}

import type { ProfileName } from '../../src/core/profiles.js';
import type { EncodedSegment } from './media-segments.js';

/** Segments the pushed media playlist lists, as ffmpeg's hls muxer keeps by default. */
const PUSHED_PLAYLIST_SEGMENTS = 6;

export interface LivePush {
  /** Segments pushed so far. */
  readonly pushed: () => number;
  /** Settles once every segment is pushed (or the push was stopped); rejects on a refused push. */
  readonly done: Promise<void>;
  stop(): void;
}

async function put(url: string, body: Uint8Array<ArrayBuffer> | string): Promise<void> {
  const res = await fetch(url, { method: 'PUT', body });
  if (res.status !== 201) throw new Error(`PUT ${url} answered ${res.status}: ${await res.text()}`);
}

/**
 * One rendition of real, already encoded segments (encodeSegments) pushed to the ingest the
 * way a live encoder does: `preload` at once, then one each segment duration of wall time, each
 * followed by the media playlist listing the newest six. A live stream for the price of one
 * fast encode, instead of a ladder encoding in real time on a shared machine.
 */
export function pushLive(
  base: string,
  recordingId: string,
  profile: ProfileName,
  segments: readonly EncodedSegment[],
  preload = 3,
): LivePush {
  let count = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const startedAt = performance.now();
  const target = Math.ceil(Math.max(...segments.map((s) => Number(s.duration))));
  const pushOne = async (index: number) => {
    const segment = segments[index] as EncodedSegment;
    await put(`${base}/ingest/${recordingId}/${profile}/${segment.file}`, segment.bytes);
    const first = Math.max(0, index + 1 - PUSHED_PLAYLIST_SEGMENTS);
    let text = `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:${target}\n#EXT-X-MEDIA-SEQUENCE:${first}\n`;
    for (const s of segments.slice(first, index + 1)) text += `#EXTINF:${s.duration},\n${s.file}\n`;
    await put(`${base}/ingest/${recordingId}/${profile}/index.m3u8`, text);
    count = index + 1;
  };
  const done = (async () => {
    let dueMs = 0;
    for (let i = 0; i < segments.length && !stopped; i++) {
      if (i >= preload) {
        // The encoder's pace: segment i is ready one duration after the one before it.
        dueMs += Number((segments[i - 1] as EncodedSegment).duration) * 1000;
        const waitMs = dueMs - (performance.now() - startedAt);
        if (waitMs > 0) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, waitMs);
          });
        }
        if (stopped) break;
      }
      await pushOne(i);
    }
  })();
  return {
    pushed: () => count,
    done,
    stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
    },
  };
}

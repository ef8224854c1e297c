import { type HlsViewerResult, watchHls } from '../../src/demo/hls-viewer.js';

export type PlaybackResult = HlsViewerResult;

/** Plays `profile` of a live stream for `seconds` as a real HTTP client, counting what it gets. */
export function playHls(
  masterUrl: string,
  profile: string,
  seconds: number,
): Promise<PlaybackResult> {
  return watchHls({ masterUrl, profile, seconds });
}

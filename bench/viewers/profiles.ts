/** The four-rendition ladder the bench encodes and replays: VTP Live's profiles at full-preset sizes. */
import { PROFILE_NAMES, PROFILES, type ProfileName } from '../../src/core/profiles.js';
import { LADDER_PRESETS } from '../../src/ingest/ffmpeg-ladder.js';

export { PROFILE_NAMES, type ProfileName };

export interface Rendition {
  readonly name: ProfileName;
  readonly width: number;
  readonly height: number;
  readonly videoKbps: number;
}

export const LADDER: readonly Rendition[] = PROFILE_NAMES.map((name) => {
  const [width, height] = LADDER_PRESETS.full.sizes[name];
  return { name, width, height, videoKbps: PROFILES[name].bitrateKbps };
});

export const AUDIO_KBPS = 64;
export const FPS = LADDER_PRESETS.full.fps;
export const SEGMENT_SECONDS = PROFILES.VeryLow.segmentDurationSec;

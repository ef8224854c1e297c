/** The four delivery profiles of the seed, lowest bitrate first (the ladder order). */
export const PROFILE_NAMES = ['VeryLow', 'Low', 'Medium', 'High'] as const;

export type ProfileName = (typeof PROFILE_NAMES)[number];

/** How one rendition is delivered: the seed's SegmentDeliveryProfile. */
export interface DeliveryProfile {
  readonly name: ProfileName;
  readonly bitrateKbps: number;
  readonly segmentDurationSec: number;
  /** Segments a fresh viewer starts behind the live edge. */
  readonly bufferSegments: number;
  /** Viewers this profile holds in a stream of DEFAULT_MAX_VIEWERS; scales with the stream's cap. */
  readonly maxViewers: number;
  /** Retries after the first failed delivery attempt. */
  readonly retryAttempts: number;
  /** Deadline of one delivery attempt. */
  readonly timeoutMs: number;
  readonly compressionLevel: number;
}

/** Stream viewer cap when a start request names none (the seed's default). */
export const DEFAULT_MAX_VIEWERS = 100;

export const PROFILES: Readonly<Record<ProfileName, DeliveryProfile>> = {
  VeryLow: {
    name: 'VeryLow',
    bitrateKbps: 500,
    segmentDurationSec: 2,
    bufferSegments: 3,
    maxViewers: 100,
    retryAttempts: 3,
    timeoutMs: 5000,
    compressionLevel: 3,
  },
  Low: {
    name: 'Low',
    bitrateKbps: 1000,
    segmentDurationSec: 2,
    bufferSegments: 4,
    maxViewers: 75,
    retryAttempts: 3,
    timeoutMs: 5000,
    compressionLevel: 4,
  },
  Medium: {
    name: 'Medium',
    bitrateKbps: 2000,
    segmentDurationSec: 2,
    bufferSegments: 5,
    maxViewers: 50,
    retryAttempts: 3,
    timeoutMs: 6000,
    compressionLevel: 5,
  },
  High: {
    name: 'High',
    bitrateKbps: 4000,
    segmentDurationSec: 2,
    bufferSegments: 6,
    maxViewers: 25,
    retryAttempts: 2,
    timeoutMs: 7000,
    compressionLevel: 6,
  },
};

const LADDER_INDEX: Readonly<Record<ProfileName, number>> = {
  VeryLow: 0,
  Low: 1,
  Medium: 2,
  High: 3,
};

/** True when `value` names one of the four profiles (case-sensitive, as in URLs). */
export function isProfileName(value: unknown): value is ProfileName {
  return typeof value === 'string' && Object.hasOwn(LADDER_INDEX, value);
}

/** Position of a profile in the ladder, 0 for VeryLow. */
export function ladderIndex(name: ProfileName): number {
  return LADDER_INDEX[name];
}

/** The profile one step down, or the same one at the bottom. */
export function stepDown(name: ProfileName): ProfileName {
  return PROFILE_NAMES[Math.max(0, LADDER_INDEX[name] - 1)] as ProfileName;
}

/** The profile one step up, or the same one at the top. */
export function stepUp(name: ProfileName): ProfileName {
  return PROFILE_NAMES[Math.min(PROFILE_NAMES.length - 1, LADDER_INDEX[name] + 1)] as ProfileName;
}

const AT_OR_BELOW: Readonly<Record<ProfileName, readonly ProfileName[]>> = {
  VeryLow: ['VeryLow'],
  Low: ['Low', 'VeryLow'],
  Medium: ['Medium', 'Low', 'VeryLow'],
  High: ['High', 'Medium', 'Low', 'VeryLow'],
};

/** Profiles from `name` down to VeryLow, in that order. */
export function profilesAtOrBelow(name: ProfileName): readonly ProfileName[] {
  return AT_OR_BELOW[name];
}

/**
 * Per-profile viewer caps for a stream: the seed's table describes a 100-viewer stream,
 * so a larger or smaller stream keeps the same shares (never below one viewer).
 */
export function profileCaps(streamMaxViewers: number): Record<ProfileName, number> {
  const scale = streamMaxViewers / DEFAULT_MAX_VIEWERS;
  const caps = {} as Record<ProfileName, number>;
  for (const name of PROFILE_NAMES) {
    caps[name] = Math.max(1, Math.ceil(PROFILES[name].maxViewers * scale));
  }
  return caps;
}

import type { ProfileName } from '../core/profiles.js';
import type { Segment } from '../core/segment.js';
import { DEFAULT_PRIORITY } from './deliveries.js';

/** What one push does at a target. */
export type PushKind = 'segment' | 'init' | 'playlist' | 'master' | 'delete';

/** The highest a push ranks: below a viewer's delivery of the default priority. */
const TOP = DEFAULT_PRIORITY - 1;

/**
 * Pool priorities of pushes (higher runs first). Every push ranks below a viewer's delivery
 * (DEFAULT_PRIORITY): viewers first, however much a target lacks. Among pushes a playlist goes
 * as soon as its segments are there: it is what makes them playable. Segments of lower
 * renditions go before higher ones: the lowest is the one every player can fall back to, and the
 * smallest. Catch-up of segments no playlist lists any more, and removals, wait for the rest.
 */
export const PUSH_PRIORITY = {
  playlist: TOP,
  segment: { VeryLow: TOP - 1, Low: TOP - 2, Medium: TOP - 3, High: TOP - 4 } as Record<
    ProfileName,
    number
  >,
  catchUp: TOP - 5,
  delete: TOP - 6,
} as const;

/** One object to upload to a target. */
export interface PlannedUpload {
  readonly kind: 'segment' | 'init';
  /** The segment's or init section's file name. */
  readonly name: string;
  readonly priority: number;
  /** True when the playlist lists it (else it is catch-up of the window behind the playlist). */
  readonly listed: boolean;
}

export interface RenditionPlanInput {
  readonly profile: ProfileName;
  /** Every segment the rendition's window holds, oldest first. */
  readonly window: readonly Segment[];
  /** The segments its media playlist lists now, oldest first. */
  readonly listed: readonly Segment[];
  /** True while the origin holds the segment or init section of this name. */
  readonly held: (name: string) => boolean;
  /** Names the target confirmed it has. */
  readonly atTarget: ReadonlySet<string>;
  /** Names queued or on their way to the target. */
  readonly pending: (name: string) => boolean;
  /** Names listed by the playlist the target has, or by one on its way: not to be removed yet. */
  readonly inUse: (name: string) => boolean;
}

export interface RenditionPlan {
  /** Uploads in the order to queue them: the listed segments (each after its init), then catch-up. */
  readonly uploads: readonly PlannedUpload[];
  /** Names at the target the origin no longer holds and no pushed playlist lists. */
  readonly deletes: readonly string[];
  /** True when every object the playlist lists is at the target: the playlist may go. */
  readonly playlistReady: boolean;
}

/**
 * What a target needs next for one rendition: the objects the playlist lists that it lacks, the
 * rest of the window it lacks (after an outage it catches up with what is still held), what to
 * remove, and whether the playlist may go (never a playlist naming an object it lacks).
 */
export function planRendition(input: RenditionPlanInput): RenditionPlan {
  const uploads: PlannedUpload[] = [];
  const planned = new Set<string>();
  const want = (kind: PlannedUpload['kind'], name: string, priority: number, listed: boolean) => {
    if (input.atTarget.has(name) || planned.has(name) || input.pending(name)) return;
    planned.add(name);
    uploads.push({ kind, name, priority, listed });
  };
  const listedIds = new Set<string>();
  let playlistReady = input.listed.length > 0;
  for (const segment of input.listed) {
    listedIds.add(segment.id);
    const priority = PUSH_PRIORITY.segment[input.profile];
    if (segment.initId !== undefined) {
      want('init', segment.initId, priority, true);
      playlistReady &&= input.atTarget.has(segment.initId);
    }
    want('segment', segment.id, priority, true);
    playlistReady &&= input.atTarget.has(segment.id);
  }
  for (const segment of input.window) {
    if (listedIds.has(segment.id)) continue;
    if (segment.initId !== undefined) want('init', segment.initId, PUSH_PRIORITY.catchUp, false);
    want('segment', segment.id, PUSH_PRIORITY.catchUp, false);
  }
  const deletes = [...input.atTarget].filter((name) => !input.held(name) && !input.inUse(name));
  return { uploads, deletes, playlistReady };
}

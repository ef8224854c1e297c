import type { ProfileName } from './profiles.js';
import type { Segment } from './segment.js';

/**
 * The renditions the server chose for one steered viewer, by media sequence number. A steered
 * player (README "Server-side steering") plays one media playlist whose segments the server
 * takes from the rendition its policy chose when each segment first appeared: players that pick
 * no rendition of their own (ffplay, VLC, a TV) follow the server that way. A choice, once
 * listed, never changes (a player may have fetched it already).
 */
export class SteeredRendition {
  /** Runs of consecutive sequence numbers at one profile, oldest first. */
  private runs: { from: number; profile: ProfileName }[] = [];
  /** Runs forgotten from the front: their starts still count as discontinuities. */
  private droppedRuns = 0;
  private last = -1;

  /** The newest sequence number a choice was made for; -1 before the first. */
  get lastAssigned(): number {
    return this.last;
  }

  /** The profile chosen for `sequence`; undefined when none was (yet) or it was forgotten. */
  profileAt(sequence: number): ProfileName | undefined {
    if (sequence > this.last) return undefined;
    for (let i = this.runs.length - 1; i >= 0; i--) {
      const run = this.runs[i] as { from: number; profile: ProfileName };
      if (run.from <= sequence) return run.profile;
    }
    return undefined;
  }

  /** Chooses `profile` for `sequence`, which must be newer than every choice so far. */
  assign(sequence: number, profile: ProfileName): void {
    if (sequence <= this.last) throw new RangeError(`sequence ${sequence} was chosen already`);
    if (this.runs.at(-1)?.profile !== profile) this.runs.push({ from: sequence, profile });
    this.last = sequence;
  }

  /**
   * Rendition changes up to and including `sequence`: each one is a discontinuity (another
   * encoding's parameters), so they add to the discontinuity sequence of later segments.
   */
  changesThrough(sequence: number): number {
    let started = this.droppedRuns;
    for (const run of this.runs) if (run.from <= sequence) started++;
    return Math.max(0, started - 1);
  }

  /** Forgets the runs that end before `sequence` (keeps the one holding it). */
  forgetBefore(sequence: number): void {
    while (this.runs.length > 1 && (this.runs[1] as { from: number }).from <= sequence) {
      this.runs.shift();
      this.droppedRuns++;
    }
  }
}

/** What steeredListing reads of a rendition's window (SegmentWindow has it). */
export interface SequenceLookup {
  nextAfter(sequence: number): Segment | undefined;
}

/**
 * The segments a steered viewer's playlist lists. `reference` is what the chosen rendition's
 * own playlist lists now (its newest segments, or its DVR span); the listing keeps its length
 * but never ends before anything listed already. Numbers listed before keep their rendition;
 * new ones get `target`'s (once `target` has them: the listing waits for it rather than mix in
 * another rendition). A rendition change is marked as a discontinuity, and every segment's
 * discontinuity sequence counts the changes before it.
 */
export function steeredListing(
  steering: SteeredRendition,
  target: ProfileName,
  reference: readonly Segment[],
  window: (profile: ProfileName) => SequenceLookup,
): Segment[] {
  const first = reference[0];
  const newest = reference.at(-1);
  if (!first || !newest) return [];
  const end = Math.max(newest.sequence, steering.lastAssigned);
  const start = first.sequence + (end - newest.sequence);
  const listed: Segment[] = [];
  let previous = steering.profileAt(start - 1);
  for (let sequence = start; sequence <= end; sequence++) {
    let profile = steering.profileAt(sequence);
    const chooseNow = profile === undefined && sequence > steering.lastAssigned;
    if (chooseNow) profile = target;
    if (profile === undefined) continue; // forgotten: before anything still listed
    const found = window(profile).nextAfter(sequence - 1);
    if (!found && chooseNow) break; // not published yet: listed at a later reload
    // Expired at the front, or lost by its rendition (its successor lists it as a gap).
    if (found?.sequence !== sequence) continue;
    if (chooseNow) steering.assign(sequence, profile);
    const changed = previous !== undefined && previous !== profile;
    listed.push({
      ...found,
      discontinuity: found.discontinuity || changed,
      discontinuitySequence: found.discontinuitySequence + steering.changesThrough(sequence),
    });
    previous = profile;
  }
  const oldest = listed[0];
  if (oldest) steering.forgetBefore(oldest.sequence - 1);
  return listed;
}

import { PROFILE_NAMES, type ProfileName } from '../core/profiles.js';
import {
  deleteJob,
  deleteKey,
  type JobContext,
  MASTER_FILE,
  MEDIA_FILE,
  masterJob,
  masterKey,
  mediaPlaylistJob,
  renditionKey,
  uploadJob,
} from './cdn-push-jobs.js';
import { planRendition } from './cdn-push-plan.js';
import type { PushedStream, PushPlaylists, TargetPlaylist } from './cdn-push-playlists.js';
import type { PushOutcome, TargetScheduler } from './cdn-push-scheduler.js';

/** What a mirror reads of the origin: its streams by id, and their playlists for targets. */
export interface MirrorOrigin {
  find(recordingId: string): PushedStream | undefined;
  readonly playlists: PushPlaylists;
}

/** What one target holds of one rendition, as far as its answers told. */
interface RenditionState {
  readonly atTarget: Set<string>;
  /** Names the media playlist at the target lists, and one on its way. */
  listedAtTarget: ReadonlySet<string>;
  listedPending: ReadonlySet<string>;
  pushedText: string | undefined;
}

interface StreamState {
  readonly incarnation: string;
  readonly renditions: Map<ProfileName, RenditionState>;
  masterShape: string | undefined;
}

/** A removal held until a sweep queues it. */
interface HeldDelete {
  readonly path: string;
  readonly profile: ProfileName | undefined;
  /** Asked when it runs: whether it should still go (a stream of that id may be back). */
  readonly wanted?: () => boolean;
  /** Tries that failed while the target took other pushes. */
  failures: number;
}

const NONE: ReadonlySet<string> = new Set();
/** Tries of a removal the target fails while up; then it is given up (and counted). */
const DELETE_TRIES = 3;

/**
 * What one target mirrors of the origin's streams, and the pushes that bring it up to date:
 * every segment (and init section) it lacks, each media playlist once it has everything the
 * playlist lists, the multivariant playlist listing the renditions it can play, and removals of
 * what the origin let go once no playlist there lists it. Its knowledge comes only from the
 * target's answers; the pushes go through its scheduler.
 */
export class TargetMirror {
  private readonly streams = new Map<string, StreamState>();
  /**
   * Removals waiting for room in the backlog, oldest first, at most `maxDeletes`: the mirror
   * forgets a stream at once, so this is all that remembers what of it is left at the target.
   */
  private readonly deletes = new Map<string, HeldDelete>();

  constructor(
    private readonly ctx: JobContext,
    readonly scheduler: TargetScheduler,
    private readonly origin: MirrorOrigin,
    private readonly maxDeletes: number,
  ) {}

  /**
   * Plans every rendition of `stream` and its master. `fresh`: planning for an event (a
   * segment, an end), whose uploads are new work; a sweep's are catch-up of what the target
   * still lacks (see TargetScheduler.enqueue).
   */
  planStream(stream: PushedStream, fresh = false): void {
    const state = this.streamState(stream);
    for (const profile of PROFILE_NAMES) this.planRendition(stream, state, profile, fresh);
    this.planMaster(stream, state);
  }

  /** Plans one rendition of `stream` (a segment of it was published). */
  planPublished(stream: PushedStream, profile: ProfileName): void {
    this.planRendition(stream, this.streamState(stream), profile, true);
  }

  /** Retires the streams this target knows that are no longer `held`. */
  forgetGone(held: ReadonlySet<string>): void {
    for (const id of [...this.streams.keys()]) if (!held.has(id)) this.retire(id, true);
  }

  /**
   * Queues held removals, oldest first, as catch-up: only while the backlog is under half full,
   * so a removal never takes an upload's place. What does not fit waits for the next sweep.
   */
  flushDeletes(): void {
    for (const [path, held] of this.deletes) {
      const job = deleteJob(
        this.ctx,
        path,
        held.profile,
        (outcome) => this.deleteEnded(held, outcome),
        held.wanted,
      );
      if (!this.scheduler.has(job.key) && !this.scheduler.enqueue(job, 'catch-up')) return;
      this.deletes.delete(path);
    }
  }

  /**
   * An object that reached the target after its stream was retired (it was on its way): it
   * goes too. A playlist only while no stream of its id took its place (it names the same path).
   */
  private landedLate(id: string, profile: ProfileName | undefined, file: string): void {
    const playlist = file === MEDIA_FILE || file === MASTER_FILE;
    const path = profile ? renditionKey(id, profile, file) : masterKey(id);
    const wanted = () => !this.streams.has(id);
    this.holdDelete({ path, profile, failures: 0, ...(playlist && { wanted }) });
  }

  /** Holds a removal for the next sweep; beyond `maxDeletes` it is given up (and counted). */
  private holdDelete(held: HeldDelete): void {
    if (this.deletes.has(held.path) || this.scheduler.has(deleteKey(held.path))) return;
    if (this.deletes.size >= this.maxDeletes) {
      this.scheduler.giveUpDelete();
      return;
    }
    this.deletes.set(held.path, held);
  }

  /**
   * A removal that was dropped from the backlog (new work took its place, or the pusher
   * stopped), or failed while the target is down, is held again; one the target failed
   * DELETE_TRIES times while up (it refuses removals, say) is given up.
   */
  private deleteEnded(held: HeldDelete, outcome: PushOutcome): void {
    if (outcome === 'pushed' || outcome === 'skipped') return;
    if (outcome === 'failed' && this.scheduler.isUp && ++held.failures >= DELETE_TRIES) {
      this.scheduler.giveUpDelete();
      return;
    }
    this.holdDelete(held);
  }

  /** The target's state of `stream`: a new incarnation starts afresh (its names are new). */
  private streamState(stream: PushedStream): StreamState {
    let state = this.streams.get(stream.recordingId);
    if (state?.incarnation !== stream.incarnation) {
      // Its playlists are about to be replaced: only the old incarnation's media goes.
      if (state) this.retire(stream.recordingId, false);
      state = { incarnation: stream.incarnation, renditions: new Map(), masterShape: undefined };
      this.streams.set(stream.recordingId, state);
    }
    return state;
  }

  private planRendition(
    stream: PushedStream,
    state: StreamState,
    profile: ProfileName,
    fresh: boolean,
  ): void {
    const window = stream.window(profile);
    let rendition = state.renditions.get(profile);
    if (!rendition && window.size === 0) return;
    if (!rendition) {
      rendition = {
        atTarget: new Set(),
        listedAtTarget: NONE,
        listedPending: NONE,
        pushedText: undefined,
      };
      state.renditions.set(profile, rendition);
    }
    const r = rendition;
    const id = stream.recordingId;
    const plan = planRendition({
      profile,
      window: window.segments(),
      listed: this.origin.playlists.listed(stream, profile),
      held: (name) => window.get(name) !== undefined || window.getInit(name) !== undefined,
      atTarget: r.atTarget,
      pending: (name) => this.scheduler.has(renditionKey(id, profile, name)),
      inUse: (name) => r.listedAtTarget.has(name) || r.listedPending.has(name),
    });
    for (const upload of plan.uploads) {
      const job = uploadJob(
        this.ctx,
        { ...upload, profile, recordingId: id },
        () => {
          const now = this.current(id, state)?.window(profile);
          return upload.kind === 'init' ? now?.getInit(upload.name) : now?.get(upload.name);
        },
        (outcome) => {
          if (outcome !== 'pushed') return;
          if (this.streams.get(id) !== state) return this.landedLate(id, profile, upload.name);
          r.atTarget.add(upload.name);
          this.replan(id, state, profile);
        },
      );
      this.scheduler.enqueue(job, fresh && upload.listed ? 'new' : 'catch-up');
    }
    for (const name of plan.deletes) {
      // Held until a sweep finds room for it (flushDeletes), then tried until it goes.
      this.holdDelete({ path: renditionKey(id, profile, name), profile, failures: 0 });
      r.atTarget.delete(name);
    }
    const playlist = this.origin.playlists.media(stream, profile);
    const key = renditionKey(id, profile, MEDIA_FILE);
    if (!plan.playlistReady || !playlist || playlist.text === r.pushedText) return;
    if (this.scheduler.has(key)) return;
    const ready = (p: TargetPlaylist | undefined) => p?.names.every((n) => r.atTarget.has(n));
    const job = mediaPlaylistJob(
      this.ctx,
      stream,
      profile,
      () => {
        // The newest that is complete at the target, else the one it was queued with.
        if (this.streams.get(id) !== state) return undefined;
        const now = this.current(id, state);
        const newest = now && this.origin.playlists.media(now, profile);
        return ready(newest) ? newest : ready(playlist) ? playlist : undefined;
      },
      (outcome, sent) => {
        r.listedPending = NONE;
        if (this.streams.get(id) !== state) {
          if (outcome === 'pushed') this.landedLate(id, profile, MEDIA_FILE);
          return;
        }
        if (outcome === 'pushed' && sent) {
          r.pushedText = sent.text;
          r.listedAtTarget = new Set(sent.names);
        }
        if (outcome !== 'dropped') this.replan(id, state, profile);
      },
    );
    // What it names is not removed from the target until it has gone (its done clears this).
    r.listedPending = new Set(playlist.names);
    if (!this.scheduler.enqueue(job)) r.listedPending = NONE;
  }

  /** The multivariant playlist, once a media playlist is there, again when what it lists changes. */
  private planMaster(stream: PushedStream, state: StreamState): void {
    const id = stream.recordingId;
    const pushed = (s: StreamState) =>
      PROFILE_NAMES.filter((p) => s.renditions.get(p)?.pushedText !== undefined);
    const profiles = pushed(state);
    if (profiles.length === 0 || this.scheduler.has(masterKey(id))) return;
    if (this.origin.playlists.masterShape(stream, profiles) === state.masterShape) return;
    const job = masterJob(
      this.ctx,
      stream,
      () => {
        const now = this.streams.get(id) === state && this.current(id, state);
        return now ? this.origin.playlists.master(now, pushed(state)) : undefined;
      },
      (outcome, sent) => {
        if (this.streams.get(id) !== state) {
          if (outcome === 'pushed') this.landedLate(id, undefined, MASTER_FILE);
          return;
        }
        if (outcome === 'pushed' && sent) state.masterShape = sent.shape;
        const now = this.current(id, state);
        if (now && outcome !== 'dropped') this.planMaster(now, state);
      },
    );
    this.scheduler.enqueue(job);
  }

  /** After a push: the rendition's next step (its playlist, removals) and the master's. */
  private replan(id: string, state: StreamState, profile: ProfileName): void {
    const stream = this.current(id, state);
    if (!stream) return;
    this.planRendition(stream, state, profile, false);
    this.planMaster(stream, state);
  }

  /** The stream `state` describes, if it is still held (and not replaced). */
  private current(id: string, state: StreamState): PushedStream | undefined {
    const stream = this.origin.find(id);
    return stream?.incarnation === state.incarnation ? stream : undefined;
  }

  /**
   * Forgets a stream at a target and removes what it pushed of it: with `playlists` (the stream
   * is gone, not replaced) its playlists first, unless a new stream of the same id has taken
   * their place by then, and its media. The removals are held (holdDelete), never queued over
   * uploads, and go as sweeps find room.
   */
  private retire(id: string, playlists: boolean): void {
    const state = this.streams.get(id);
    if (!state) return;
    this.streams.delete(id);
    const wanted = () => !this.streams.has(id);
    if (playlists && state.masterShape !== undefined) {
      this.holdDelete({ path: masterKey(id), profile: undefined, wanted, failures: 0 });
    }
    for (const [profile, r] of state.renditions) {
      if (playlists && r.pushedText !== undefined) {
        const path = renditionKey(id, profile, MEDIA_FILE);
        this.holdDelete({ path, profile, wanted, failures: 0 });
      }
    }
    for (const [profile, r] of state.renditions) {
      // In name order, not landing order (uploads land concurrently): what the bound keeps is
      // the same on every run, the oldest where names count up.
      for (const name of [...r.atTarget].sort(NAME_ORDER.compare)) {
        this.holdDelete({ path: renditionKey(id, profile, name), profile, failures: 0 });
      }
    }
  }
}

/** Names compared with their numbers as numbers: seg-9 before seg-10. */
const NAME_ORDER = new Intl.Collator('en', { numeric: true });

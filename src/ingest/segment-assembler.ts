/**
 * Pairs the segment files an encoder pushes with the media playlists that describe them.
 * ffmpeg's hls muxer uploads a segment and then (or, over HTTP, sometimes before it finishes)
 * the playlist listing it; a segment is ready once both its bytes and its playlist entry have
 * arrived. Pure: no I/O, no clock.
 */
import { DistributionError } from '../core/errors.js';

/** One segment line of a pushed media playlist. */
export interface PlaylistEntry {
  readonly file: string;
  /** The encoder's media sequence number for this segment. */
  readonly encoderSequence: number;
  readonly durationSec: number;
  readonly discontinuity: boolean;
  /** File name of the fMP4 initialization section (EXT-X-MAP), if any. */
  readonly mapFile?: string | undefined;
}

/** A segment whose bytes and description are both known, ready to publish. */
export interface ReadySegment extends PlaylistEntry {
  readonly data: Uint8Array;
  /** The encoder restarted before this segment: it opens a new epoch. */
  readonly restarted: boolean;
  /** When its bytes arrived (ms, as the caller's clock told), for the ingest lag. */
  readonly arrivedAt: number | undefined;
}

/** A segment file's bytes waiting for its playlist entry. */
interface WaitingFile {
  readonly data: Uint8Array;
  readonly arrivedAt: number | undefined;
}

/** Segment files kept waiting for their playlist entry (a bound against junk uploads). */
export const MAX_PENDING_FILES = 32;

export class PendingFullError extends DistributionError {
  constructor(file: string) {
    super(
      'SEGMENTS_WAITING_FULL',
      `'${file}' refused: ${MAX_PENDING_FILES} segment files of this rendition already wait for a playlist entry (push the media playlist)`,
      'file',
    );
  }
}

/** A new init section when every kept one is still named by the playlist: keeping it would pass the bound. */
export class InitSectionsFullError extends DistributionError {
  constructor(file: string, max: number) {
    super(
      'INIT_SECTIONS_FULL',
      `cannot keep init section '${file}': the rendition keeps at most ${max} and the pushed playlist still names all of them`,
      'file',
    );
  }
}

export class SegmentAssembler {
  private readonly pending = new Map<string, WaitingFile>();
  private readonly inits = new Map<string, Uint8Array>();
  private listed = new Map<string, PlaylistEntry>();
  private lastSequence = -1;
  private restartPending = false;
  private published = 0;
  private pendingBytes = 0;
  private initBytes = 0;

  /** @param maxInitSections distinct init sections kept at once (each name an encoder uses costs memory). */
  constructor(private readonly maxInitSections: number) {}

  /** Segments published since this assembler started. */
  get publishedCount(): number {
    return this.published;
  }

  /** Bytes held here: segment files waiting for their entry plus init sections. */
  get heldBytes(): number {
    return this.pendingBytes + this.initBytes;
  }

  /** Takes a segment file's bytes, arrived at `arrivedAt` (ms); returns whatever became ready. */
  addSegment(file: string, data: Uint8Array, arrivedAt?: number): ReadySegment[] {
    this.dropPending(file);
    if (this.pending.size >= MAX_PENDING_FILES) {
      // Files whose entry the stream has already passed can never be published: make room.
      for (const waiting of this.pending.keys()) {
        const listed = this.listed.get(waiting);
        if (listed && listed.encoderSequence <= this.lastSequence) this.dropPending(waiting);
      }
      // Otherwise refuse this one: what was answered 201 is kept until it is published.
      if (this.pending.size >= MAX_PENDING_FILES) throw new PendingFullError(file);
    }
    this.pending.set(file, { data, arrivedAt });
    this.pendingBytes += data.byteLength;
    return this.collect();
  }

  /**
   * Takes the entries of a pushed media playlist; returns whatever became ready. A playlist
   * whose newest entry is older than what was already published means the encoder restarted.
   */
  addPlaylist(entries: readonly PlaylistEntry[]): ReadySegment[] {
    const newest = entries.at(-1);
    if (newest && this.lastSequence >= 0 && newest.encoderSequence < this.lastSequence) {
      this.lastSequence = -1;
      this.restartPending = true;
    }
    this.listed = new Map(entries.map((entry) => [entry.file, entry]));
    return this.collect();
  }

  /**
   * Takes an fMP4 initialization section; segments naming it wait for it. Beyond the bound a
   * new name evicts the oldest one the playlist no longer names, or is refused when it names all.
   */
  addInit(file: string, data: Uint8Array): ReadySegment[] {
    const previous = this.inits.get(file);
    if (previous === undefined && this.inits.size >= this.maxInitSections) this.evictInit(file);
    this.inits.delete(file); // re-inserted last: the newest upload is the youngest
    this.inits.set(file, data);
    this.initBytes += data.byteLength - (previous?.byteLength ?? 0);
    return this.collect();
  }

  /** The latest bytes of an initialization section. */
  init(file: string): Uint8Array | undefined {
    return this.inits.get(file);
  }

  /** Drops a file the encoder deleted, if it was never published. */
  remove(file: string): void {
    this.dropPending(file);
  }

  private dropPending(file: string): void {
    const waiting = this.pending.get(file);
    if (waiting === undefined) return;
    this.pending.delete(file);
    this.pendingBytes -= waiting.data.byteLength;
  }

  private evictInit(incoming: string): void {
    const named = new Set<string | undefined>();
    for (const entry of this.listed.values()) named.add(entry.mapFile);
    for (const [file, data] of this.inits) {
      if (named.has(file)) continue;
      this.inits.delete(file);
      this.initBytes -= data.byteLength;
      return;
    }
    throw new InitSectionsFullError(incoming, this.maxInitSections);
  }

  private collect(): ReadySegment[] {
    const ready: ReadySegment[] = [];
    const candidates = [...this.listed.values()]
      .filter((e) => e.encoderSequence > this.lastSequence && this.pending.has(e.file))
      .sort((a, b) => a.encoderSequence - b.encoderSequence);
    for (const entry of candidates) {
      if (entry.mapFile !== undefined && !this.inits.has(entry.mapFile)) break;
      const { data, arrivedAt } = this.pending.get(entry.file) as WaitingFile;
      this.dropPending(entry.file);
      ready.push({ ...entry, data, arrivedAt, restarted: this.restartPending });
      this.restartPending = false;
      this.lastSequence = entry.encoderSequence;
      this.published++;
    }
    return ready;
  }
}

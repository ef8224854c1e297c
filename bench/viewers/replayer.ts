/** Replays the encoded ladder as a live stream: one segment per rendition per target duration. */
import type { Ladder, LadderSegment } from './ladder-cache.js';
import { LADDER, type ProfileName, SEGMENT_SECONDS } from './profiles.js';

/** Where a live publisher writes: a directory served by nginx, or VTP Live's HTTP ingest. */
export interface LiveSink {
  putSegment(profile: ProfileName, fileName: string, bytes: Buffer): Promise<void>;
  putPlaylist(profile: ProfileName, text: string): Promise<void>;
  /** Called for segments well past the window (the dir sink deletes them, ingest ignores it). */
  dropSegment?(profile: ProfileName, fileName: string): Promise<void>;
}

interface Published {
  readonly sequence: number;
  readonly fileName: string;
  readonly duration: number;
  readonly discontinuity: boolean;
}

export function segmentFileName(sequence: number): string {
  return `seg_${String(sequence).padStart(5, '0')}.ts`;
}

/**
 * A live media playlist over `window`, like ffmpeg's hls muxer writes, plus discontinuities:
 * the first segment's discontinuity is counted in DISCONTINUITY-SEQUENCE instead of tagged.
 */
export function mediaPlaylist(window: readonly Published[], discontinuitiesBefore: number): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    `#EXT-X-TARGETDURATION:${SEGMENT_SECONDS}`,
    `#EXT-X-MEDIA-SEQUENCE:${window[0]?.sequence ?? 0}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuitiesBefore}`,
  ];
  window.forEach((segment, i) => {
    if (segment.discontinuity && i > 0) lines.push('#EXT-X-DISCONTINUITY');
    lines.push(`#EXTINF:${segment.duration.toFixed(6)},`, segment.fileName);
  });
  return `${lines.join('\n')}\n`;
}

export interface ReplayerOptions {
  readonly windowSegments: number;
  /** Segments kept on the sink after leaving the playlist, for viewers behind the edge. */
  readonly graceSegments: number;
}

/** Publishes segment N of every rendition, then its playlist, at real-time pace, looping forever. */
export class LiveReplayer {
  private sequence = 0;
  private readonly published: Published[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private nextAt = 0;
  publishErrors = 0;
  lastError: unknown;

  constructor(
    private readonly ladder: Ladder,
    private readonly sink: LiveSink,
    private readonly options: ReplayerOptions,
  ) {}

  private source(profile: ProfileName): readonly LadderSegment[] {
    const list = this.ladder.segments.get(profile);
    if (!list || list.length === 0) throw new Error(`ladder has no ${profile} segments`);
    return list;
  }

  /** Publishes the next segment of every rendition and the playlists; rejects on sink errors. */
  async publishNext(): Promise<number> {
    const loopLength = this.source('VeryLow').length;
    const sequence = this.sequence++;
    const index = sequence % loopLength;
    const fileName = segmentFileName(sequence);
    const first = this.source('VeryLow')[index];
    const entry: Published = {
      sequence,
      fileName,
      duration: first?.duration ?? SEGMENT_SECONDS,
      discontinuity: sequence > 0 && index === 0,
    };
    this.published.push(entry);
    const window = this.published.slice(-this.options.windowSegments);
    // Loop points sit at every multiple of the loop length, so count those up to the first.
    const firstSequence = window[0]?.sequence ?? 0;
    const text = mediaPlaylist(window, Math.floor(firstSequence / loopLength));
    await Promise.all(
      LADDER.map(async ({ name }) => {
        const segment = this.source(name)[index];
        if (!segment) throw new Error(`${name} has no segment ${index}`);
        await this.sink.putSegment(name, fileName, segment.bytes);
        await this.sink.putPlaylist(name, text);
      }),
    );
    const expired =
      this.published.length - this.options.windowSegments - this.options.graceSegments;
    if (expired > 0) {
      const gone = this.published.splice(0, expired);
      const drop = this.sink.dropSegment?.bind(this.sink);
      if (drop) {
        await Promise.all(gone.flatMap((g) => LADDER.map(({ name }) => drop(name, g.fileName))));
      }
    }
    return entry.duration;
  }

  /** Publishes `count` segments back to back (the pre-roll), then keeps real-time pace. */
  async start(prerollSegments: number): Promise<void> {
    for (let i = 0; i < prerollSegments; i++) await this.publishNext();
    this.running = true;
    this.nextAt = performance.now() + SEGMENT_SECONDS * 1000;
    this.schedule();
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(
      () => {
        this.publishNext().then(
          (duration) => {
            this.nextAt += duration * 1000;
            this.schedule();
          },
          (error: unknown) => {
            this.publishErrors++;
            this.lastError = error;
            this.nextAt += SEGMENT_SECONDS * 1000;
            this.schedule();
          },
        );
      },
      Math.max(0, this.nextAt - performance.now()),
    );
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }
}

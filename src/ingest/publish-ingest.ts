import { randomBytes } from 'node:crypto';
import type { EncoderStatus } from './encoder-job.js';
import type { PresetName, StartEncoder } from './encoder-manager.js';
import type { PublishStats, RtmpLog } from './rtmp/rtmp-server.js';
import { RtmpServer } from './rtmp/rtmp-server.js';
import { StreamKeys } from './rtmp/stream-keys.js';
import { SrtPorts } from './srt/srt-ports.js';
import { SRT_RELAY, SrtRelay } from './srt/srt-relay.js';

export type PublishProtocol = 'rtmp' | 'srt';

/** What publishing needs of the built-in encoders: a ladder fed by the publish, and its end. */
export interface PublishEncoders {
  start(request: StartEncoder): EncoderStatus;
  stop(jobId: string): Promise<EncoderStatus>;
}

/** What publishing needs of the streams: which are live, and when one ends or goes away. */
export interface PublishStreams {
  isLive(recordingId: string): boolean;
  onForgotten(listener: (recordingId: string) => void): void;
  onEnded(listener: (recordingId: string) => void): void;
  /**
   * Streams `waiting` holds are not ended for being quiet (`published`: the stream has had a
   * segment).
   */
  setWaiting(waiting: (recordingId: string, published: boolean) => boolean): void;
}

/** Where stream keys are kept across a restart (sealed by the SQLite store). */
export interface StreamKeyStore {
  saveStreamKey(recordingId: string, key: string): void;
  deleteStreamKey(recordingId: string): void;
}

export const PUBLISH_DEFAULTS = {
  rtmpPort: 1935,
  /** No SRT listeners unless a port range is given. */
  srtPorts: undefined,
  preset: 'full',
} as const satisfies { rtmpPort: number; srtPorts: undefined; preset: PresetName };

export interface PublishIngestOptions {
  /** Where lecturers publish RTMP (the server's host); SRT is relayed through it too. */
  readonly rtmp: { readonly host: string; readonly port: number };
  /** SRT listeners, one per stream with a key, on ports of this range (off without). */
  readonly srt?: { readonly host: string; readonly from: number; readonly to: number } | undefined;
  readonly encoders: PublishEncoders;
  readonly streams: PublishStreams;
  readonly keyStore: StreamKeyStore;
  /** How long a stream waits for its lecturer to come back (ingest's encoder timeout). */
  readonly reconnectWindowMs: number;
  /** The ladder preset publishes are encoded with. */
  readonly preset?: PresetName;
  readonly log: RtmpLog;
}

/** A stream's publishing as the status shows it (no key: status is readable by viewers). */
export interface IngestStatus {
  readonly protocol: PublishProtocol | undefined;
  readonly connected: boolean;
  /** When the current publish was approved (ms since epoch), while one is live. */
  readonly connectedSince: number | undefined;
  /** Publishes after the first (a lecturer's connection dropped and came back). */
  readonly reconnects: number;
  readonly stats: PublishStats | undefined;
}

/** The ready publish URLs of a stream (admin only: they carry its key). */
export interface PublishUrls {
  readonly rtmp: { readonly url: string; readonly server: string; readonly streamKey: string };
  readonly srt: { readonly url: string; readonly port: number } | undefined;
}

/** What the control API needs of publishing: keys, URLs and status. */
export interface PublishingControl {
  /** The stream's key: `key` when given (it must have a stream key's form), else a random one. */
  issueKey(recordingId: string, key?: string): string;
  /** The stream `key` is the stream key of, if any. */
  streamOf(key: string): string | undefined;
  urls(recordingId: string, host: string): PublishUrls | undefined;
  status(recordingId: string): IngestStatus | undefined;
  /** Whether the RTMP listener is up (false while its child restarts). */
  listenerStatus(): { readonly up: boolean };
}

/** A stream's publishing: its SRT relay and the publish live now, if any. */
interface StreamPublish {
  srt: { port: number; relayKey: string; relay: SrtRelay } | undefined;
  live: { alias: string; protocol: PublishProtocol; jobId: string; since: number } | undefined;
  publishes: number;
  /** When the last publish ended (ms since epoch): the reconnect window counts from it. */
  endedAt: number | undefined;
}

/**
 * Lecturers publishing from OBS (or any RTMP or SRT encoder) with a stream key: approves each
 * publish the RTMP server announces (the key names the stream; a second publisher, an unknown
 * key, or a stream that takes no pushes is refused), starts the built-in ladder pulling it from
 * loopback, and stops that ladder when the publisher leaves. The ladder pushes through the
 * normal ingest path, so a publisher coming back within the encoder timeout continues the same
 * stream (ingest marks the restart a discontinuity) and one that stays away lets it end. SRT
 * publishes reach the same path through a per-stream relay into the RTMP server.
 */
export class PublishIngest implements PublishingControl {
  private readonly keys = new StreamKeys();
  private readonly rtmp: RtmpServer;
  private readonly srtPorts: SrtPorts | undefined;
  private readonly streams = new Map<string, StreamPublish>();
  /** Relay keys (internal, one per SRT listener) and the stream each publishes to. */
  private readonly relayKeys = new Map<string, string>();
  /** Live publishes by pull alias. */
  private readonly aliases = new Map<string, string>();
  /** Set once the RTMP listener is up: SRT relays start from then on. */
  private started = false;

  constructor(private readonly options: PublishIngestOptions) {
    this.rtmp = new RtmpServer({
      ...options.rtmp,
      approve: async (key, local) => this.approve(key, local),
      onEnded: (alias) => this.ended(alias),
      log: options.log,
    });
    this.srtPorts = options.srt && new SrtPorts(options.srt);
    options.streams.onForgotten((recordingId) => this.forget(recordingId));
    // An ended stream takes no publish: its publisher (if any) is disconnected.
    options.streams.onEnded((recordingId) => this.disconnect(recordingId));
    options.streams.setWaiting((recordingId, published) => this.waiting(recordingId, published));
  }

  /** Starts the RTMP listener (rejects when it cannot listen) and the SRT relays of known keys. */
  async start(): Promise<void> {
    await this.rtmp.start();
    this.started = true;
    for (const state of this.streams.values()) state.srt?.relay.start();
  }

  /** Kills the RTMP child and every relay at once (for process exit handlers). */
  killAll(): void {
    for (const state of this.streams.values()) state.srt?.relay.killNow();
    this.rtmp.killNow();
  }

  /** Stops every relay and the RTMP listener; the ladders of live publishes stop with them. */
  async stop(): Promise<void> {
    await Promise.all([...this.streams.values()].map((s) => s.srt?.relay.stop()));
    await this.rtmp.stop();
  }

  /** The stream's key (replacing any it had), `chosen` or a random one: to hand to its lecturer. */
  issueKey(recordingId: string, chosen?: string): string {
    const key = chosen ?? this.keys.issue(recordingId);
    if (chosen !== undefined) this.keys.remember(recordingId, chosen);
    this.options.keyStore.saveStreamKey(recordingId, key);
    this.keyChanged(recordingId);
    return key;
  }

  streamOf(key: string): string | undefined {
    return this.keys.streamOf(key);
  }

  /**
   * Sets the stream's key as it was stored, after a restart: its lecturer, cut off by the
   * restart, has the reconnect window from now to come back.
   */
  restoreKey(recordingId: string, key: string): void {
    this.keys.remember(recordingId, key);
    this.keyChanged(recordingId);
    this.stateOf(recordingId).endedAt = Date.now();
  }

  /** The stream's publish URLs for `host` (as the operator reaches this server), if it has a key. */
  urls(recordingId: string, host: string): PublishUrls | undefined {
    const key = this.keys.keyFor(recordingId);
    if (key === undefined) return undefined;
    const server = `rtmp://${host}:${this.options.rtmp.port}/live`;
    const srt = this.streams.get(recordingId)?.srt;
    return {
      rtmp: { url: `${server}/${key}`, server, streamKey: key },
      srt: srt && {
        port: srt.port,
        url: `srt://${host}:${srt.port}?mode=caller&passphrase=${key}&latency=${SRT_RELAY.latencyUs}`,
      },
    };
  }

  /** The stream's publishing, once it has a key or has been published to. */
  status(recordingId: string): IngestStatus | undefined {
    const state = this.streams.get(recordingId);
    if (!state) return undefined;
    const live = state.live;
    return {
      protocol: live?.protocol,
      connected: live !== undefined,
      connectedSince: live?.since,
      reconnects: Math.max(0, state.publishes - 1),
      stats: live && this.rtmp.stats(live.alias),
    };
  }

  /** The RTMP listener's own state (for the health check). */
  listenerStatus(): ReturnType<RtmpServer['status']> {
    return this.rtmp.status();
  }

  /** The RTMP child's pid while it runs. */
  get rtmpPid(): number | undefined {
    return this.rtmp.pid;
  }

  /**
   * Not quiet but waiting for its lecturer: a stream whose publish is live (its ladder may not
   * have pushed yet), one with a key that has had no segment yet, and one whose publish ended
   * within the reconnect window.
   */
  private waiting(recordingId: string, published: boolean): boolean {
    const state = this.streams.get(recordingId);
    if (!state) return false;
    if (state.live) return true;
    if (!published) return this.keys.keyFor(recordingId) !== undefined;
    const sinceEnd = state.endedAt === undefined ? Infinity : Date.now() - state.endedAt;
    return sinceEnd < this.options.reconnectWindowMs;
  }

  /** Ends the stream's live publish, if any: its publisher is disconnected. */
  private disconnect(recordingId: string): void {
    const live = this.streams.get(recordingId)?.live;
    if (live) this.rtmp.close(live.alias);
  }

  private keyChanged(recordingId: string): void {
    // The old key no longer publishes: a publisher that used it is disconnected.
    this.disconnect(recordingId);
    const state = this.stateOf(recordingId);
    // The SRT passphrase is the key: a new key needs a new listener.
    if (state.srt) this.closeSrt(state);
    this.openSrt(recordingId);
  }

  private stateOf(recordingId: string): StreamPublish {
    let state = this.streams.get(recordingId);
    if (!state) {
      state = { srt: undefined, live: undefined, publishes: 0, endedAt: undefined };
      this.streams.set(recordingId, state);
    }
    return state;
  }

  /** Approves a publish: the pull alias of the ladder it starts, or undefined to refuse it. */
  private approve(key: string, local: boolean): string | undefined {
    // A relay key is for the SRT relay on this host only (it sits in the relay's argv).
    const relayed = local ? this.relayKeys.get(key) : undefined;
    const recordingId = relayed ?? this.keys.streamOf(key);
    const protocol: PublishProtocol = relayed ? 'srt' : 'rtmp';
    if (recordingId === undefined) {
      this.options.log.warn({ protocol }, 'publish refused: unknown stream key');
      return undefined;
    }
    const state = this.stateOf(recordingId);
    if (state.live) {
      this.options.log.warn(
        { recordingId, protocol },
        'publish refused: the stream has a publisher',
      );
      return undefined;
    }
    // A stream that ended (through the API, or its lecturer stayed away past the reconnect
    // window) is over: a publish must not start it again and replace its recording.
    if (!this.options.streams.isLive(recordingId)) {
      this.options.log.warn({ recordingId, protocol }, 'publish refused: the stream has ended');
      return undefined;
    }
    const alias = `pub-${randomBytes(12).toString('base64url')}`;
    let job: EncoderStatus;
    try {
      job = this.options.encoders.start({
        recordingId,
        source: { type: 'url', url: this.rtmp.pullUrl(alias) },
        preset: this.options.preset ?? PUBLISH_DEFAULTS.preset,
        publish: protocol,
      });
    } catch (error) {
      // An encoder started through the API feeds the stream already.
      this.options.log.warn(
        { recordingId, protocol, err: (error as Error).message },
        'publish refused: the ladder cannot start',
      );
      return undefined;
    }
    state.live = { alias, protocol, jobId: job.jobId, since: Date.now() };
    state.publishes += 1;
    this.aliases.set(alias, recordingId);
    this.options.log.info({ recordingId, protocol, publishes: state.publishes }, 'publish started');
    return alias;
  }

  /** The publisher left (or the RTMP child died): its ladder stops; the stream waits for it. */
  private ended(alias: string): void {
    const recordingId = this.aliases.get(alias);
    if (recordingId === undefined) return;
    this.aliases.delete(alias);
    const state = this.streams.get(recordingId);
    const live = state?.live;
    if (!state || live?.alias !== alias) return;
    state.live = undefined;
    state.endedAt = Date.now();
    this.options.log.info({ recordingId, protocol: live.protocol }, 'publish ended');
    this.options.encoders
      .stop(live.jobId)
      .catch((error: Error) =>
        this.options.log.warn({ recordingId, err: error.message }, 'stopping a ladder failed'),
      );
  }

  /** The stream is gone: its key, relay and publish go with it. */
  private forget(recordingId: string): void {
    const state = this.streams.get(recordingId);
    if (!state) return;
    this.disconnect(recordingId);
    this.streams.delete(recordingId);
    this.keys.forget(recordingId);
    this.options.keyStore.deleteStreamKey(recordingId);
    this.closeSrt(state);
    if (state.live) {
      this.aliases.delete(state.live.alias);
      void this.options.encoders.stop(state.live.jobId).catch(() => {});
    }
  }

  private openSrt(recordingId: string): void {
    const state = this.streams.get(recordingId);
    const key = this.keys.keyFor(recordingId);
    if (!this.options.srt || !this.srtPorts || !state || state.srt || key === undefined) return;
    const port = this.srtPorts.take();
    if (port === undefined) {
      this.options.log.warn({ recordingId }, 'no SRT port left in --srt-ports: RTMP only');
      return;
    }
    const relayKey = randomBytes(24).toString('base64url');
    let relay: SrtRelay;
    try {
      relay = new SrtRelay({
        host: this.options.srt.host,
        port,
        passphrase: key,
        // The relay publishes on this host under its own key, which approve() knows.
        target: this.rtmp.pullUrl(relayKey),
        log: this.options.log,
      });
    } catch (error) {
      this.srtPorts.release(port);
      this.options.log.warn({ recordingId, err: (error as Error).message }, 'no SRT listener');
      return;
    }
    this.relayKeys.set(relayKey, recordingId);
    state.srt = { port, relayKey, relay };
    if (this.started) relay.start();
  }

  private closeSrt(state: StreamPublish): void {
    const srt = state.srt;
    if (!srt) return;
    state.srt = undefined;
    this.relayKeys.delete(srt.relayKey);
    void srt.relay.stop().finally(() => this.srtPorts?.release(srt.port));
  }
}

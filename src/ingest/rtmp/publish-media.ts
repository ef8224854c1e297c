/**
 * What an RTMP publish's own media says about it: codecs, picture size and frame rate, read from
 * the FLV tags node-media-server hands its packet callback. A client's onMetaData only claims
 * these (OBS and ffmpeg send what they were configured with, other encoders send nothing or
 * stale values), so what the stream shows wins and the claim fills only what it cannot show.
 * Pure: no I/O, no clock (frame rate comes from the tags' timestamps).
 */

/** The parts of an NMS packet (its FLV tag) read here. */
export interface MediaPacket {
  /** FLV tag type: 8 audio, 9 video, 18 script data. */
  codec_type: number;
  /** Tag timestamp, ms. */
  dts: number;
  data: Buffer;
}

export interface PictureSize {
  width: number;
  height: number;
}

/** Sequence parameter set parsers (NMS ships both; it applies them to RTSP pulls only). */
export interface SpsParsers {
  h264(sps: Buffer): PictureSize | null;
  hevc(sps: Buffer): PictureSize | null;
}

/** What the client claimed in onMetaData, as NMS stores it on the session (any type). */
export interface ClaimedMedia {
  videoCodec: unknown;
  videoWidth: unknown;
  videoHeight: unknown;
  videoFramerate: unknown;
  audioCodec: unknown;
}

export interface MediaStats {
  videoCodec?: string;
  width?: number;
  height?: number;
  fps?: number;
  audioCodec?: string;
}

// Codec names as ffprobe prints them. FLV's numeric ids, then enhanced RTMP's FourCCs.
const FLV_VIDEO: Record<number, string> = {
  2: 'flv1',
  4: 'vp6f',
  5: 'vp6a',
  7: 'h264',
  12: 'hevc',
};
const FLV_AUDIO: Record<number, string> = {
  0: 'pcm',
  1: 'adpcm_swf',
  2: 'mp3',
  3: 'pcm',
  4: 'nellymoser',
  5: 'nellymoser',
  6: 'nellymoser',
  7: 'pcm_alaw',
  8: 'pcm_mulaw',
  10: 'aac',
  11: 'speex',
  14: 'mp3',
};
const FOURCC: Record<string, string> = {
  avc1: 'h264',
  hvc1: 'hevc',
  av01: 'av1',
  vp09: 'vp9',
  mp4a: 'aac',
  Opus: 'opus',
  '.mp3': 'mp3',
  fLaC: 'flac',
  'ac-3': 'ac3',
  'ec-3': 'eac3',
};
const FLV_EX_HEADER = 9; // enhanced RTMP: the codec is a FourCC after the first byte
const H264 = 7;
const HEVC_LEGACY = 12; // the pre-enhanced-RTMP HEVC id some Chinese CDNs and encoders use
const INFO_FRAME = 5; // a video "command frame": no picture

/** Accumulates one publish's media facts, packet by packet. */
export class PublishMedia {
  private videoCodec: string | undefined;
  private audioCodec: string | undefined;
  private size: PictureSize | undefined;
  /** Timestamp a frame-rate interval starts at, and the frames and last timestamp since. */
  private markDts: number | undefined;
  private frames = 0;
  private lastDts: number | undefined;

  constructor(private readonly sps: SpsParsers) {}

  /**
   * Notes one packet; true when it changed the picture size (its sequence header was read).
   * Never throws: the packet is a client's bytes, and a throw here would end its publish.
   */
  observe(packet: MediaPacket): boolean {
    try {
      if (packet.codec_type === 8) this.audio(packet.data);
      else if (packet.codec_type === 9) return this.video(packet);
    } catch {
      // a truncated or malformed tag says nothing: keep what earlier tags said
    }
    return false;
  }

  /**
   * What is known now, the stream's own facts first; the frame rate is measured over the video
   * since the previous call (the claim stands in while no two frames arrived).
   */
  describe(claimed: ClaimedMedia): MediaStats {
    return {
      videoCodec: this.videoCodec ?? claimedCodec(claimed.videoCodec, FLV_VIDEO),
      width: this.size?.width ?? positive(claimed.videoWidth),
      height: this.size?.height ?? positive(claimed.videoHeight),
      fps: this.takeFps() ?? rounded(positive(claimed.videoFramerate)),
      audioCodec: this.audioCodec ?? claimedCodec(claimed.audioCodec, FLV_AUDIO),
    };
  }

  private audio(data: Buffer): void {
    const format = data[0] === undefined ? undefined : data[0] >> 4;
    if (format === undefined) return;
    this.audioCodec =
      (format === FLV_EX_HEADER ? FOURCC[fourCC(data)] : FLV_AUDIO[format]) ?? this.audioCodec;
  }

  private video({ data, dts }: MediaPacket): boolean {
    const first = data[0];
    if (first === undefined || ((first >> 4) & 0x07) === INFO_FRAME) return false;
    let codec: string | undefined;
    let sequenceStart: boolean;
    let frame: boolean;
    if (first & 0x80) {
      // enhanced RTMP: [frame type | packet type] [FourCC] ...
      codec = FOURCC[fourCC(data)];
      const packetType = first & 0x0f;
      sequenceStart = packetType === 0;
      frame = packetType === 1 || packetType === 3;
    } else {
      // legacy: [frame type | codec id] [AVC packet type] [composition time] ...
      const id = first & 0x0f;
      codec = FLV_VIDEO[id];
      const avc = id === H264 || id === HEVC_LEGACY;
      sequenceStart = avc && data[1] === 0;
      frame = !avc || data[1] === 1;
    }
    this.videoCodec = codec ?? this.videoCodec;
    if (frame) this.countFrame(dts);
    if (!sequenceStart) return false;
    // Both layouts put the decoder configuration record at byte 5.
    const size =
      codec === 'h264'
        ? this.avcSize(data.subarray(5))
        : codec === 'hevc'
          ? this.hevcSize(data.subarray(5))
          : undefined;
    if (!size || (size.width === this.size?.width && size.height === this.size?.height))
      return false;
    this.size = size;
    return true;
  }

  /** AVCDecoderConfigurationRecord: 5 bytes, the SPS count, then a 16-bit length and the SPS. */
  private avcSize(record: Buffer): PictureSize | undefined {
    if (((record[5] ?? 0) & 0x1f) === 0) return undefined;
    return this.parse(this.sps.h264, record, 6);
  }

  /** HEVCDecoderConfigurationRecord: 22 bytes, then arrays of NAL units; the SPS is type 33. */
  private hevcSize(record: Buffer): PictureSize | undefined {
    let at = 23;
    for (let arrays = record.readUInt8(22); arrays > 0; arrays--) {
      const type = record.readUInt8(at) & 0x3f;
      let count = record.readUInt16BE(at + 1);
      at += 3;
      for (; count > 0; count--) {
        if (type === 33) return this.parse(this.sps.hevc, record, at);
        at += 2 + record.readUInt16BE(at);
      }
    }
    return undefined;
  }

  /**
   * The SPS whose 16-bit length is at `at`, parsed. A cut one is not parsed: NMS's bit reader
   * reads zeros past the end and would make up a size.
   */
  private parse(parser: SpsParsers['h264'], record: Buffer, at: number): PictureSize | undefined {
    const length = record.readUInt16BE(at);
    const sps = record.subarray(at + 2, at + 2 + length);
    return sps.length === length ? (parser(sps) ?? undefined) : undefined;
  }

  private countFrame(dts: number): void {
    if (this.markDts === undefined || dts < this.markDts) {
      // first frame, or the timestamps went back (a new timeline): measure from here
      this.markDts = dts;
      this.frames = 0;
      this.lastDts = undefined;
      return;
    }
    this.frames += 1;
    this.lastDts = dts;
  }

  /** Frames per second between the mark and the last frame; the last frame becomes the mark. */
  private takeFps(): number | undefined {
    if (this.markDts === undefined || this.lastDts === undefined) return undefined;
    const span = this.lastDts - this.markDts;
    if (span <= 0) return undefined;
    const fps = rounded((this.frames * 1000) / span);
    this.markDts = this.lastDts;
    this.frames = 0;
    this.lastDts = undefined;
    return fps;
  }
}

function fourCC(data: Buffer): string {
  return data.toString('latin1', 1, 5);
}

/** onMetaData's codec id: FLV's number, an enhanced RTMP FourCC as a number, or a FourCC string. */
function claimedCodec(id: unknown, table: Record<number, string>): string | undefined {
  if (typeof id === 'string') return FOURCC[id];
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) return undefined;
  if (id <= 0xff) return table[id];
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(id >>> 0);
  return FOURCC[bytes.toString('latin1')];
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

/** Two decimals: 29.97 stays 29.97, 25.0000001 is 25. */
function rounded(value: number | undefined): number | undefined {
  return value === undefined ? undefined : Math.round(value * 100) / 100;
}

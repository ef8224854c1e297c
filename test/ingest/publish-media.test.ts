import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type ClaimedMedia,
  type MediaPacket,
  PublishMedia,
  type SpsParsers,
} from '../../src/ingest/rtmp/publish-media.js';
import { run } from '../helpers/exec.js';

const require = createRequire(import.meta.url);
const { parseH264Sps, parseH265Sps } = require('node-media-server/src/protocol/sps_info.js');
const SPS: SpsParsers = { h264: parseH264Sps, hevc: parseH265Sps };

const NOTHING_CLAIMED: ClaimedMedia = {
  videoCodec: 0,
  videoWidth: 0,
  videoHeight: 0,
  videoFramerate: 0,
  audioCodec: 0,
};

/** The tags of an FLV file, as NMS's RTMP parser hands them over (type, timestamp, body). */
function flvTags(file: Buffer): MediaPacket[] {
  const tags: MediaPacket[] = [];
  for (let at = file.readUInt32BE(5) + 4; at + 11 <= file.length; ) {
    const size = file.readUIntBE(at + 1, 3);
    const dts = file.readUIntBE(at + 4, 3) | (file.readUInt8(at + 7) << 24);
    tags.push({
      codec_type: file.readUInt8(at),
      dts,
      data: file.subarray(at + 11, at + 11 + size),
    });
    at += 11 + size + 4;
  }
  return tags;
}

/** The NAL units of an Annex B stream, split at its 00 00 01 start codes. */
function nalUnits(stream: Buffer): Buffer[] {
  const code = Buffer.from([0, 0, 1]);
  const units: Buffer[] = [];
  for (let at = stream.indexOf(code); at !== -1; ) {
    const next = stream.indexOf(code, at + 3);
    let end = next === -1 ? stream.length : next;
    while (end > at + 3 && stream[end - 1] === 0) end--; // a 4-byte start code's leading zero
    units.push(stream.subarray(at + 3, end));
    at = next;
  }
  return units;
}

/** Two seconds of a test pattern with a tone, encoded by real ffmpeg into FLV. */
async function encode(dir: string, name: string, rate: string, codec = 'libx264'): Promise<Buffer> {
  const out = join(dir, `${name}.flv`);
  // biome-ignore format: ffmpeg arguments read best as pairs
  const args = ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=${rate}`, '-f', 'lavfi', '-i', 'sine',
    '-t', '2', '-c:v', codec, '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
    '-f', 'flv', out];
  const { code, stderr } = await run('ffmpeg', args, 60_000);
  assert.equal(code, 0, stderr);
  return readFileSync(out);
}

describe('what an RTMP publish says of its media', () => {
  let dir: string;
  let h264: MediaPacket[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vtp-publish-media-'));
    h264 = flvTags(await encode(dir, 'h264', '25'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("the stream's own size, frame rate and codecs win over what onMetaData claims", () => {
    const media = new PublishMedia(SPS);
    const sizeKnown = h264.filter((tag) => media.observe(tag)).length;
    assert.equal(sizeKnown, 1, 'the sequence header makes the size known once');
    const claimed = {
      videoCodec: 2,
      videoWidth: 1920,
      videoHeight: 1080,
      videoFramerate: 60,
      audioCodec: 2,
    };
    assert.deepEqual(media.describe(claimed), {
      videoCodec: 'h264',
      width: 640,
      height: 360,
      fps: 25,
      audioCodec: 'aac',
    });
  });

  test('the frame rate is measured afresh for each interval, from the timestamps', async () => {
    const ntsc = flvTags(await encode(dir, 'ntsc', '30000/1001'));
    const media = new PublishMedia(SPS);
    const half = Math.floor(ntsc.length / 2);
    for (const tag of ntsc.slice(0, half)) media.observe(tag);
    const first = media.describe(NOTHING_CLAIMED).fps as number;
    for (const tag of ntsc.slice(half)) media.observe(tag);
    const second = media.describe(NOTHING_CLAIMED).fps as number;
    assert.ok(Math.abs(first - 29.97) < 0.1, `first interval ${first} fps`);
    assert.ok(Math.abs(second - 29.97) < 0.1, `second interval ${second} fps`);
    // no frame since: the interval says nothing, and the claim (none here) stands in
    assert.equal(media.describe(NOTHING_CLAIMED).fps, undefined);
  });

  test('HEVC in enhanced RTMP: the size is read from its own parameter sets', async () => {
    // This ffmpeg cannot put HEVC into FLV: build the tags OBS sends from a real HEVC stream.
    const out = join(dir, 'hevc.265');
    // biome-ignore format: ffmpeg arguments read best as pairs
    const args = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi',
      '-i', 'testsrc2=size=640x360:rate=25', '-frames:v', '1', '-c:v', 'libx265',
      '-x265-params', 'log-level=error', '-f', 'hevc', out];
    const { code, stderr } = await run('ffmpeg', args, 60_000);
    assert.equal(code, 0, stderr);
    const units = nalUnits(readFileSync(out));
    const byType = (type: number) => units.filter((unit) => (unit[0] ?? 0) >> 1 === type);
    // HEVCDecoderConfigurationRecord: 22 bytes we leave zero, then VPS, SPS and PPS arrays
    const arrays = [32, 33, 34].map((type) => {
      const [nal] = byType(type) as [Buffer];
      const head = Buffer.from([type, 0, 1, nal.length >> 8, nal.length & 0xff]);
      return Buffer.concat([head, nal]);
    });
    const record = Buffer.concat([Buffer.alloc(22), Buffer.from([3]), ...arrays]);
    const exHeader = (frameType: number, packetType: number) =>
      Buffer.concat([Buffer.from([0x80 | (frameType << 4) | packetType]), Buffer.from('hvc1')]);
    const media = new PublishMedia(SPS);
    const start = { codec_type: 9, dts: 0, data: Buffer.concat([exHeader(1, 0), record]) };
    assert.equal(media.observe(start), true);
    // coded frames (packet type 1 with a composition time, 3 without), 40 ms apart
    for (let frame = 0; frame <= 50; frame++) {
      const data = Buffer.concat([
        exHeader(frame % 50 ? 2 : 1, frame % 2 ? 3 : 1),
        Buffer.alloc(8),
      ]);
      media.observe({ codec_type: 9, dts: frame * 40, data });
    }
    const { videoCodec, width, height, fps } = media.describe(NOTHING_CLAIMED);
    assert.deepEqual(
      { videoCodec, width, height, fps },
      { videoCodec: 'hevc', width: 640, height: 360, fps: 25 },
    );
  });

  test('the claim fills what the stream has not shown; nonsense claims are dropped', () => {
    const media = new PublishMedia(SPS);
    assert.deepEqual(
      media.describe({
        videoCodec: 7,
        videoWidth: 1280,
        videoHeight: 720,
        videoFramerate: 29.97002997,
        audioCodec: 10,
      }),
      { videoCodec: 'h264', width: 1280, height: 720, fps: 29.97, audioCodec: 'aac' },
    );
    // enhanced RTMP claims codecs as FourCCs, as a number or a string
    const hvc1 = Buffer.from('hvc1').readUInt32BE();
    const fourCC = media.describe({ ...NOTHING_CLAIMED, videoCodec: hvc1, audioCodec: 'Opus' });
    assert.equal(fourCC.videoCodec, 'hevc');
    assert.equal(fourCC.audioCodec, 'opus');
    const nonsense = { videoCodec: 'x'.repeat(500), videoWidth: -1, videoHeight: Number.NaN };
    assert.deepEqual(media.describe({ ...nonsense, videoFramerate: '25', audioCodec: { a: 1 } }), {
      videoCodec: undefined,
      width: undefined,
      height: undefined,
      fps: undefined,
      audioCodec: undefined,
    });
  });

  test('truncated or empty tags change nothing and never throw', () => {
    const media = new PublishMedia(SPS);
    const header = h264.find((tag) => tag.codec_type === 9 && tag.data[1] === 0) as MediaPacket;
    for (const cut of [0, 1, 6, 10, 14])
      assert.equal(media.observe({ ...header, data: header.data.subarray(0, cut) }), false);
    assert.equal(media.observe({ codec_type: 8, dts: 0, data: Buffer.alloc(0) }), false);
    const { width, height } = media.describe(NOTHING_CLAIMED);
    assert.deepEqual({ width, height }, { width: undefined, height: undefined });
    assert.equal(media.observe(header), true, 'the whole header still reads');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EncoderProgress } from '../../src/ingest/encoder-progress.js';
import { LADDER_PRESETS, ladderArguments } from '../../src/ingest/ffmpeg-ladder.js';

describe('encoder progress', () => {
  /** One ffmpeg -progress block: media time so far, ffmpeg's own speed, then the block's end. */
  const block = (p: EncoderProgress, at: number, mediaSeconds: number, speed = '1.0x') => {
    for (const line of [`out_time_us=${mediaSeconds * 1e6}`, `speed=${speed}`, 'progress=continue'])
      p.line(line, at);
  };

  it('reads speed and encoded time from ffmpeg -progress lines', () => {
    const p = new EncoderProgress();
    for (const line of [
      'frame=30',
      'out_time_us=2000000',
      'speed=N/A',
      'progress=continue',
      'speed=1.01x',
    ])
      p.line(line, 0);
    assert.equal(p.speed, 1.01);
    assert.equal(p.encodedSeconds, 2);
    assert.equal(p.behind(0), false);
  });

  it('judges the pace on media time gained over a full window, not on ffmpeg speed averaged since start', () => {
    const p = new EncoderProgress({ windowMs: 4000, behindBelow: 0.9, stalledAfterMs: 3000 });
    for (let s = 0; s <= 3; s++) block(p, s * 1000, s * 0.5, '0.5x');
    assert.equal(p.recentSpeed(3000), undefined, 'three seconds are not a window');
    assert.equal(p.behind(3000), false);
    block(p, 4000, 2, '0.5x');
    assert.equal(p.recentSpeed(4000), 0.5);
    assert.equal(p.behind(4000), true);
    // Catching up: ffmpeg's average still reads slow while the last window ran at real time.
    for (let s = 5; s <= 8; s++) block(p, s * 1000, 2 + (s - 4), '0.7x');
    assert.equal(p.recentSpeed(8000), 1);
    assert.equal(p.behind(8000), false, 'ffmpeg says 0.7x, the last 4 s were real time');
    p.reset();
    assert.equal(p.speed, undefined);
    assert.equal(p.recentSpeed(8000), undefined);
  });

  it('counts an encoder that stops reporting as stalled, and behind, at speed 0', () => {
    const p = new EncoderProgress({ windowMs: 4000, behindBelow: 0.9, stalledAfterMs: 3000 });
    for (let s = 0; s <= 5; s++) block(p, s * 1000, s, '1.0x');
    assert.equal(p.behind(7500), false, 'two and a half quiet seconds are a late block');
    assert.equal(p.stalled(8000), true);
    assert.equal(p.recentSpeed(8000), 0);
    assert.equal(p.behind(8000), true);
  });
});

describe('ladder arguments', () => {
  const args = ladderArguments({
    source: { kind: 'test-pattern' },
    preset: LADDER_PRESETS.full,
    ingestUrl: 'http://127.0.0.1:8080/ingest/lecture',
    bearerToken: 'vtpjob-token',
    durationSec: 30,
    progress: true,
  });
  const value = (flag: string) => args[args.indexOf(flag) + 1];

  it('encodes the four profiles at their bitrates with GOPs aligned to 2 s segments', () => {
    assert.deepEqual(['-b:v:0', '-b:v:1', '-b:v:2', '-b:v:3'].map(value), [
      '500k',
      '1000k',
      '2000k',
      '4000k',
    ]);
    assert.equal(value('-g'), '60');
    assert.equal(value('-keyint_min'), '60');
    assert.equal(value('-sc_threshold'), '0');
    assert.equal(value('-hls_time'), '2');
    assert.match(
      value('-filter_complex') ?? '',
      /scale=426:240.*scale=640:360.*scale=1280:720.*scale=1920:1080/,
    );
    assert.equal(value('-c:a'), 'aac');
  });

  it('pushes every variant over HTTP PUT to the ingest path, authorised by a bearer header and no key in any URL', () => {
    assert.equal(value('-method'), 'PUT');
    assert.equal(
      value('-var_stream_map'),
      'v:0,a:0,name:VeryLow v:1,a:1,name:Low v:2,a:2,name:Medium v:3,a:3,name:High',
    );
    assert.equal(
      value('-hls_segment_filename'),
      'http://127.0.0.1:8080/ingest/lecture/%v/seg_%05d.ts',
    );
    assert.equal(args.at(-1), 'http://127.0.0.1:8080/ingest/lecture/%v/index.m3u8');
    assert.equal(value('-headers'), 'Authorization: Bearer vtpjob-token\r\n');
    assert.ok(!args.some((a) => a.includes('key=')));
    assert.equal(value('-t'), '30');
    assert.equal(value('-progress'), 'pipe:1');
  });

  it('reads a looped file or a network URL instead of the test pattern', () => {
    const file = ladderArguments({
      source: { kind: 'file', path: '/media/talk.mp4', loop: true },
      preset: LADDER_PRESETS.light,
      ingestUrl: 'http://h/ingest/x',
    });
    assert.equal(file[file.indexOf('-i') - 1], '-1', 'looped forever');
    assert.equal(file[file.indexOf('-i') + 1], '/media/talk.mp4');
    assert.ok(file.includes('0:a:0'));
    const url = ladderArguments({
      source: { kind: 'url', url: 'srt://camera:9000' },
      preset: LADDER_PRESETS.light,
      ingestUrl: 'http://h/ingest/x',
      fmp4: true,
    });
    assert.equal(url[url.indexOf('-i') + 1], 'srt://camera:9000');
    assert.equal(url[url.indexOf('-hls_segment_type') + 1], 'fmp4');
  });

  it('marks the first packets of every MPEG-TS run discontinuous, so a restart reads as one (fMP4 has no such flag)', () => {
    assert.equal(value('-hls_segment_options'), 'mpegts_flags=+initial_discontinuity');
    const fmp4 = ladderArguments({
      source: { kind: 'test-pattern' },
      preset: LADDER_PRESETS.light,
      ingestUrl: 'http://h/ingest/x',
      fmp4: true,
    });
    assert.ok(!fmp4.includes('-hls_segment_options'));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CpuMeter } from '../../bench/publish/cpu-meter.js';
import { PUBLISH_BENCH_DEFAULTS, parsePublishBenchOptions } from '../../bench/publish/options.js';
import {
  markdownTable,
  type RoundMeasurement,
  summariseRound,
} from '../../bench/publish/report.js';

describe('bench:publish options', () => {
  it('takes the defaults without flags and reads the window and the publisher list', () => {
    assert.deepEqual(parsePublishBenchOptions([]), PUBLISH_BENCH_DEFAULTS);
    assert.deepEqual(parsePublishBenchOptions(['--seconds', '5', '--publishers', '2, 3']), {
      ...PUBLISH_BENCH_DEFAULTS,
      seconds: 5,
      publishers: [2, 3],
    });
  });

  it('refuses a value that is no whole number in range, naming its flag', () => {
    assert.throws(() => parsePublishBenchOptions(['--seconds', '0']), /--seconds/);
    assert.throws(() => parsePublishBenchOptions(['--seconds', '2.5']), /--seconds/);
    assert.throws(() => parsePublishBenchOptions(['--publishers', '1,,4']), /--publishers/);
    assert.throws(() => parsePublishBenchOptions(['--publishers', '99']), /--publishers/);
    assert.throws(
      () => parsePublishBenchOptions(['--playable-timeout', 'x']),
      /--playable-timeout/,
    );
    assert.throws(() => parsePublishBenchOptions(['--viewers', '3']), /viewers/);
  });
});

describe('bench:publish CPU meter', () => {
  it('adds each process’s CPU since its first reading, per group', () => {
    const meter = new CpuMeter<'a' | 'b'>();
    meter.take('a', 10, 5);
    meter.take('a', 11, 1);
    meter.take('b', 10, 100);
    meter.take('a', 10, 6.5);
    meter.take('a', 11, 1.25);
    meter.take('b', 10, 103);
    assert.equal(meter.total('a'), 1.75);
    assert.equal(meter.total('b'), 3);
  });

  it('counts nothing for a process that exited (its reading drops) and starts a new one at its first reading', () => {
    const meter = new CpuMeter<'ladders'>();
    meter.take('ladders', 7, 4);
    meter.take('ladders', 7, 0); // exited: processCpuSeconds reads 0
    meter.take('ladders', 8, 30); // its replacement: a baseline only
    meter.take('ladders', 8, 31);
    assert.equal(meter.total('ladders'), 1);
  });
});

describe('bench:publish summary', () => {
  const measured: RoundMeasurement = {
    publishers: 4,
    playableSeconds: [6, 8, null, 10],
    windowSeconds: 20,
    cpuSeconds: { rtmpChild: 2, publishers: 16, ladders: 40, machine: 36 },
    cores: 2,
    encoder: {
      speeds: [1, 0.9, 0.8],
      recentSpeeds: [1.1, 0.7, 0.95],
      behindSamples: 2,
      samples: 3,
      restarts: 0,
    },
  };

  it('turns CPU seconds over the window into % of one core, per publisher, and the relay/ladder ratio', () => {
    const r = summariseRound(measured);
    assert.equal(r.rtmp_child_cpu_pct, 10); // 2 s of 20 s
    assert.equal(r.rtmp_child_cpu_pct_per_publisher, 2.5);
    assert.equal(r.publisher_ffmpeg_cpu_pct_per_publisher, 20);
    assert.equal(r.ladder_cpu_pct_per_publisher, 50);
    assert.equal(r.rtmp_child_to_ladder_ratio, 0.05);
    assert.equal(r.machine_busy_pct, 180);
    assert.equal(r.playable, 3);
    assert.equal(r.playable_s_mean, 8);
    assert.equal(r.playable_s_max, 10);
    assert.deepEqual(r.playable_s, [6, 8, null, 10]);
    assert.equal(r.ladder_speed_mean, 0.9);
    assert.equal(r.ladder_recent_speed_min, 0.7);
  });

  it('has no ratio without ladder CPU and no latency when nothing played, and the table says so', () => {
    const r = summariseRound({
      ...measured,
      playableSeconds: [null],
      publishers: 1,
      cpuSeconds: { rtmpChild: 1, publishers: 0, ladders: 0, machine: 1 },
      encoder: { speeds: [], recentSpeeds: [], behindSamples: 0, samples: 0, restarts: 0 },
    });
    assert.equal(r.rtmp_child_to_ladder_ratio, null);
    assert.equal(r.playable_s_mean, null);
    const table = markdownTable([summariseRound(measured), r]).split('\n');
    assert.equal(table.length, 4);
    assert.match(
      table[2] ?? '',
      /^\| 4 \| 3\/4 \| 8\.0 \/ 10\.0 \| 10\.0 \| 2\.5 \| 20\.0 \| 50\.0 \| 5\.0 % \|/,
    );
    assert.match(table[3] ?? '', /^\| 1 \| 0\/1 \| n\/a \/ n\/a \|.*\| n\/a \|/);
  });
});

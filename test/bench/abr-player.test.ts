import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nominalSizes } from '../../bench/abr/ladder.js';
import { CATCH_UP_SEGMENTS, HOLD_BACK_SEGMENTS, simulateSession } from '../../bench/abr/player.js';
import { constantTrace, outageTrace } from '../../bench/abr/traces.js';
import { PROFILE_NAMES, PROFILES, type ProfileName } from '../../src/core/profiles.js';
import {
  type AdaptationInput,
  type AdaptationPolicy,
  bufferHealthFromBufferLength,
} from '../../src/core/quality.js';

/** A policy that always asks for one profile, so the hand computations follow one bitrate. */
const fixed = (profile: ProfileName): AdaptationPolicy => ({
  name: `fixed-${profile}`,
  decide: () => ({ profile, reason: 'fixed' }),
});

// Every segment exactly its nominal size: bitrate x 2 s.
const sizes = nominalSizes();
const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual}, expected ${expected}`);

describe('ABR player model: constant traces at each ladder bitrate (RTT 0)', () => {
  it('holds back 3 segments (hls.js at our page) and catches up at 6 behind (the playlist)', () => {
    assert.equal(HOLD_BACK_SEGMENTS, 3);
    assert.equal(CATCH_UP_SEGMENTS, 6);
  });

  for (const profile of PROFILE_NAMES) {
    const kbps = PROFILES[profile].bitrateKbps;

    it(`${profile} on exactly ${kbps} kbps: every segment takes 2 s, the buffer touches 0 and never stalls`, () => {
      // Segment -3 (published at -4) arrives at 2: the first frame, 8 s behind live. Each later
      // segment takes the 2 s the one before it plays: segment k is in at 2(k + 4).
      const log = simulateSession(constantTrace(kbps), fixed(profile), {
        sizes,
        startProfile: profile,
        durationSec: 40,
      });
      close(log.startupSec, 2, 'startup');
      assert.equal(log.stalls, 0);
      close(log.rebufferSec, 0, 'rebuffer');
      close(log.latencySecMean, 8, 'latency');
      close(log.watchSec, 38, 'watched');
      assert.equal(log.segments.length, 20);
      assert.deepEqual(
        log.segments.map((s) => s.doneSec),
        Array.from({ length: 20 }, (_, i) => 2 * (i + 1)),
      );
      assert.ok(log.segments.every((s) => s.profile === profile));
    });

    it(`${profile} on 1.25 x its bitrate: reaches the live edge, then waits for each segment to be published`, () => {
      // 1.6 s a segment: first frame at 1.6 (latency 7.6); segment 6 is in at 16.0, and from
      // segment 7 on each is requested when published, at 2(k + 1), and in 1.6 s later.
      const log = simulateSession(constantTrace(kbps * 1.25), fixed(profile), {
        sizes,
        startProfile: profile,
        durationSec: 40,
      });
      close(log.startupSec, 1.6, 'startup');
      assert.equal(log.stalls, 0);
      close(log.latencySecMean, 7.6, 'latency');
      assert.deepEqual(
        log.segments.map((s) => s.index),
        Array.from({ length: 22 }, (_, i) => i - 3),
      );
      for (const s of log.segments.filter((s) => s.index >= 7)) {
        close(s.requestedSec, 2 * (s.index + 1), `request of segment ${s.index}`);
        close(s.doneSec, 2 * (s.index + 1) + 1.6, `arrival of segment ${s.index}`);
      }
    });

    it(`${profile} on 0.8 x its bitrate: stalls 0.5 s on every segment after the first`, () => {
      // 2.5 s a segment, 2 s of media each: arrivals at 2.5, 5, ..., 17.5; six stalls of 0.5 s;
      // the download started at 17.5 would end at 20, after the 19 s session.
      const log = simulateSession(constantTrace(kbps * 0.8), fixed(profile), {
        sizes,
        startProfile: profile,
        durationSec: 19,
      });
      close(log.startupSec, 2.5, 'startup');
      assert.equal(log.segments.length, 7);
      assert.equal(log.stalls, 6);
      close(log.rebufferSec, 3, 'rebuffer');
      assert.equal(log.catchUps, 0);
    });
  }
});

describe('ABR player model: outages longer than the buffer', () => {
  // VeryLow (1000 kbit) at 5000 kbps: 0.2 s a segment. First frame at 0.2, 6.2 s behind live; the
  // player sits at the edge, so when segment 19 is published at 40 it holds 6.2 - 2 = 4.2 s.
  it('stalls for the outage minus the buffer, plus the transfer once the link is back', () => {
    const log = simulateSession(outageTrace(5000, 40, 10), fixed('VeryLow'), {
      sizes,
      startProfile: 'VeryLow',
      durationSec: 80,
    });
    // No data from 40 to 50; segment 19 is in at 50.2; the buffer ran dry at 44.2.
    assert.equal(log.stalls, 1);
    close(log.rebufferSec, 10 - 4.2 + 0.2, 'rebuffer');
    assert.equal(log.catchUps, 0);
    const after = log.segments.find((s) => s.index === 19);
    close(after?.doneSec ?? Number.NaN, 50.2, 'segment 19 arrival');
  });

  it('jumps back to the edge minus the hold-back when the outage leaves it 6 segments behind', () => {
    // Outage 40-60: stall 44.2-60.2 (16 s). At 60.2 the newest segment is 29 and the player needs
    // 20: out of the 6-segment playlist, so it jumps to 27, drops its buffer and stalls 0.2 s more.
    const log = simulateSession(outageTrace(5000, 40, 20), fixed('VeryLow'), {
      sizes,
      startProfile: 'VeryLow',
      durationSec: 80,
    });
    assert.equal(log.catchUps, 1);
    assert.equal(log.stalls, 2);
    close(log.rebufferSec, 20 - 4.2 + 0.2 + 0.2, 'rebuffer');
    const indices = log.segments.map((s) => s.index);
    assert.equal(indices[indices.indexOf(19) + 1], 27);
  });
});

describe('ABR player model: what the policy is told', () => {
  it('fetches the first segment at the join profile without asking the policy', () => {
    const log = simulateSession(constantTrace(5000), fixed('VeryLow'), {
      sizes,
      startProfile: 'Medium',
      durationSec: 10,
    });
    assert.deepEqual(
      log.segments.slice(0, 3).map((s) => [s.profile, s.reason]),
      [
        ['Medium', 'join profile'],
        ['VeryLow', 'fixed'],
        ['VeryLow', 'fixed'],
      ],
    );
  });

  it('asks before every later download with the buffer, the measured throughput (RTT included) and the next sizes', () => {
    const inputs: AdaptationInput[] = [];
    const recording: AdaptationPolicy = {
      name: 'recording',
      decide(input) {
        inputs.push(input);
        return { profile: 'Low', reason: 'recording' };
      },
    };
    // Low (2000 kbit) at 1000 kbps with a 100 ms round trip: 2.1 s a download. Segment -3 (the
    // join's, not asked) is in at 2.1; the policy is first asked then, with 2 s buffered and one
    // sample of 2000 / 2.1 kbps. The 15th download would end at 31.5, past the 30 s session:
    // asked for, not recorded, so the policy is asked once per recorded segment.
    const log = simulateSession(constantTrace(1000, 100), recording, { sizes, durationSec: 30 });
    assert.equal(log.segments.length, 14);
    assert.equal(inputs.length, log.segments.length);
    const [first, second] = inputs;
    assert.deepEqual(first, {
      current: 'Low',
      bufferHealth: bufferHealthFromBufferLength(2000, 'Low'),
      bufferSec: 2,
      throughputKbps: [2000 / 2.1],
      segmentDurationSec: 2,
      nextSegmentKbit: { VeryLow: 1000, Low: 2000, Medium: 4000, High: 8000 },
    });
    // 2 s played from 2.1, then 0.1 s stalled until 4.2, when the next 2 s are in.
    close(second?.bufferSec ?? Number.NaN, 2, 'buffer at the second request');
    assert.equal(second?.throughputKbps?.length, 2);
    close(second?.throughputKbps?.[1] ?? Number.NaN, 2000 / 2.1, 'measured throughput');
    assert.ok(inputs.every((i) => (i.throughputKbps?.length ?? 0) <= 8));
    assert.equal(inputs.at(-1)?.throughputKbps?.length, 8);
  });

  it('cycles through the recorded segment sizes from the session offset', () => {
    const cycling = {
      segmentSec: 2,
      kbit: { ...nominalSizes().kbit, VeryLow: [1000, 1500, 500] },
    };
    const log = simulateSession(constantTrace(5000), fixed('VeryLow'), {
      sizes: cycling,
      startProfile: 'VeryLow',
      durationSec: 10,
      sizeOffset: 3,
    });
    // Segment k uses recorded size (k + 3) mod 3 = k mod 3: -3 -> 0, -2 -> 1, -1 -> 2, 0 -> 0.
    assert.deepEqual(
      log.segments.slice(0, 4).map((s) => s.kbit),
      [1000, 1500, 500, 1000],
    );
  });
});

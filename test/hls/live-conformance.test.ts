import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { M3U8Parser, PlaylistLevelType } from 'hls.js';
import HLS from 'hls-parser';
import { ffprobeMedia, type MediaProbe } from '../../src/ingest/media-probe.js';
import { HLS_DEFAULTS } from '../../src/service/hls-delivery.js';
import { run } from '../helpers/exec.js';
import { assertConformantMedia, assertConformantMultivariant } from '../helpers/hls-conformance.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { type RunningLadder, startLadder } from '../helpers/ladder.js';
import { type EncodedSegment, encodeSegments } from '../helpers/media-segments.js';
import { waitFor } from '../helpers/wait.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;
const LADDER = ['VeryLow', 'Low', 'Medium', 'High'] as const;

async function join(server: TestServer, stream: string, viewer: string): Promise<string> {
  const joined = await call(`${server.url}/api/v1/streams/${stream}`, 'POST', {
    viewer_id: viewer,
  });
  assert.equal(joined.status, 201, JSON.stringify(joined.body));
  return joined.body.session_id;
}

async function text(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

/** hls.js's own parser on a media playlist: what a browser player would make of it. */
function hlsJsLevel(playlist: string, url: string) {
  const details = M3U8Parser.parseLevelPlaylist(playlist, url, 0, PlaylistLevelType.MAIN, 0, null);
  assert.equal(details.playlistParsingError, null, `hls.js refused:\n${playlist}`);
  return details;
}

describe('a real ffmpeg ladder checked against the HLS rules', { timeout: 120_000 }, () => {
  let server: TestServer;
  let ladder: RunningLadder | undefined;
  let live: string;
  let session: string;

  before(async () => {
    server = await startTestServer({ cleanupIntervalMs: 250 }, 200, {
      ingest: { probe: ffprobeMedia() },
    });
    live = `${server.url}/live/lecture`;
    await call(`${server.url}/api/v1/streams/start`, 'POST', { recording_id: 'lecture' });
    session = await join(server, 'lecture', 'checker');
    ladder = startLadder(`${server.url}/ingest/lecture`, 10);
  });

  after(async () => {
    await ladder?.stop();
    await server?.close();
  });

  it('serves CODECS and RESOLUTION on every variant of the very first multivariant playlist', async () => {
    // Asked for as soon as it exists: the first 200 is the one a player would keep.
    const first = await waitFor(
      async () => {
        const master = await text(`${live}/master.m3u8?session=${session}`);
        return master.status === 200 ? master.text : undefined;
      },
      30_000,
      'the first multivariant playlist',
      20,
    );
    const variants = first.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
    assert.ok(variants.length >= 1);
    for (const variant of variants) {
      assert.match(variant, /CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"/, first);
      assert.match(variant, /RESOLUTION=\d+x\d+/, first);
    }
    assertConformantMultivariant(first);
  });

  it('serves conformant playlists whose program date-times agree across the four renditions and follow the durations', async () => {
    await waitFor(
      async () => {
        const stats = (await call(`${server.url}/api/v1/streams/lecture`, 'GET')).body;
        return LADDER.every((p) => stats.segments_available[p] >= 4) ? true : undefined;
      },
      30_000,
      'four segments in every rendition',
    );
    const master = await text(`${live}/master.m3u8?session=${session}`);
    assertConformantMultivariant(master.text);
    // hls.js starts with the first variant listed (no start level set): Medium.
    const levels = M3U8Parser.parseMasterPlaylist(master.text, `${live}/master.m3u8`).levels;
    assert.equal(levels.length, 4);
    assert.match(levels[0]?.url ?? '', /\/Medium\/index\.m3u8/);
    assert.ok(levels.every((l) => l.videoCodec && (l.width ?? 0) > 0 && l.attrs['FRAME-RATE']));

    const playlists = await Promise.all(
      LADDER.map(async (profile) => {
        const url = `${live}/${profile}/index.m3u8`;
        const media = await text(url);
        assertConformantMedia(media.text);
        hlsJsLevel(media.text, url);
        return HLS.parse(media.text) as MediaPlaylist;
      }),
    );
    assert.equal(new Set(playlists.map((p) => p.targetDuration)).size, 1, 'one target duration');
    // Every media sequence number listed in all four has one date-time.
    const byNumber = new Map<number, Set<number>>();
    for (const playlist of playlists) {
      for (const segment of playlist.segments) {
        const times = byNumber.get(segment.mediaSequenceNumber) ?? new Set();
        times.add(segment.programDateTime?.getTime() ?? Number.NaN);
        byNumber.set(segment.mediaSequenceNumber, times);
      }
    }
    const shared = [...byNumber.keys()].filter((n) =>
      playlists.every((p) => p.segments.some((s) => s.mediaSequenceNumber === n)),
    );
    assert.ok(shared.length >= 3, `only ${shared.length} numbers listed in every rendition`);
    for (const n of shared) {
      assert.equal(
        byNumber.get(n)?.size,
        1,
        `segment ${n} has date-times ${[...(byNumber.get(n) ?? [])]}`,
      );
    }
    // Spaced by the durations (the checker holds each playlist to 2 ms; here the numbers).
    const low = playlists[1] as MediaPlaylist;
    for (let i = 1; i < low.segments.length; i++) {
      const [a, b] = [low.segments[i - 1], low.segments[i]];
      const gap = (b?.programDateTime?.getTime() ?? 0) - (a?.programDateTime?.getTime() ?? 0);
      assert.ok(
        Math.abs(gap - (a?.duration ?? 0) * 1000) <= 2,
        `${gap} ms vs EXTINF ${a?.duration}`,
      );
    }
  });

  it('keeps the target duration, and conformance, across an encoder restart', async () => {
    const before = HLS.parse((await text(`${live}/Low/index.m3u8`)).text) as MediaPlaylist;
    const lastBefore = before.segments.at(-1)?.mediaSequenceNumber ?? -1;
    await ladder?.exited;
    ladder = startLadder(`${server.url}/ingest/lecture`, 6);
    const restarted = await waitFor(
      async () => {
        const media = await text(`${live}/Low/index.m3u8`);
        const parsed = HLS.parse(media.text) as MediaPlaylist;
        return parsed.segments.some((s) => s.discontinuity && s.mediaSequenceNumber > lastBefore)
          ? media.text
          : undefined;
      },
      20_000,
      'segments of the restarted encoder',
    );
    assertConformantMedia(restarted);
    for (const profile of LADDER) {
      const media = await text(`${live}/${profile}/index.m3u8`);
      assertConformantMedia(media.text);
      assert.equal((HLS.parse(media.text) as MediaPlaylist).targetDuration, before.targetDuration);
    }
  });
});

/**
 * A probe the test holds: while held, each probe asked for waits until the test releases it,
 * then runs `inner` on its bytes.
 */
function heldProbe(inner: MediaProbe) {
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  let asked = 0;
  let released = true;
  return {
    probe: (async (bytes) => {
      asked++;
      await gate;
      return inner(bytes);
    }) satisfies MediaProbe,
    hold() {
      released = false;
      gate = new Promise((resolve) => {
        open = resolve;
      });
    },
    release() {
      released = true;
      open();
    },
    get asked() {
      return asked;
    },
    get released() {
      return released;
    },
  };
}

/**
 * Counts the times HLS delivery found a probe of `stream` running and waited for it (it asks
 * ingest, the one it was built with); `restore` stops counting.
 */
function countProbeWaits(server: TestServer, stream: string) {
  const ingest = server.ingest;
  const original = ingest.probing;
  let count = 0;
  ingest.probing = function (this: typeof ingest, recordingId: string) {
    const running = original.call(this, recordingId);
    if (running && recordingId === stream) count++;
    return running;
  };
  return {
    get count() {
      return count;
    },
    restore() {
      ingest.probing = original;
    },
  };
}

/** PUTs segment `index` of a rendition, then its playlist listing every segment up to it. */
async function push(
  base: string,
  stream: string,
  profile: string,
  segments: readonly EncodedSegment[],
  index: number,
  body: Uint8Array<ArrayBuffer> | null | undefined = segments[index]?.bytes,
): Promise<void> {
  const segment = segments[index] as EncodedSegment;
  // null: the upload was lost (undefined would take the default, the real bytes).
  if (body) {
    const put = await fetch(`${base}/ingest/${stream}/${profile}/${segment.file}`, {
      method: 'PUT',
      body,
    });
    assert.equal(put.status, 201, await put.text());
  }
  let playlist = '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n';
  for (const s of segments.slice(0, index + 1)) playlist += `#EXTINF:${s.duration},\n${s.file}\n`;
  const put = await fetch(`${base}/ingest/${stream}/${profile}/index.m3u8`, {
    method: 'PUT',
    body: playlist,
  });
  assert.equal(put.status, 201, await put.text());
}

describe('pushed real media checked against the HLS rules', { timeout: 60_000 }, () => {
  let server: TestServer;
  let segments: EncodedSegment[];
  const warnings: string[] = [];
  const probes = heldProbe(ffprobeMedia());

  before(async () => {
    segments = await encodeSegments(5, 2);
    server = await startTestServer({}, 200, {
      ingest: { probe: probes.probe, warn: (message) => warnings.push(message) },
      // Longer than any test runs: a held probe is released by the test, never timed out.
      hls: { ...HLS_DEFAULTS, probeWaitMs: 120_000 },
    });
  });
  after(() => server?.close());

  it('makes a multivariant playlist asked for while the probe still runs wait for it', async () => {
    await call(`${server.url}/api/v1/streams/start`, 'POST', { recording_id: 'early' });
    const session = await join(server, 'early', 'eager');
    probes.hold();
    const waits = countProbeWaits(server, 'early');
    try {
      await push(server.url, 'early', 'Low', segments, 0);
      assert.equal(probes.asked, 1, 'the first segment is being probed');
      let answered = false;
      const pending = text(`${server.url}/live/early/master.m3u8?session=${session}`).then((r) => {
        answered = true;
        return r;
      });
      await waitFor(
        async () => (waits.count > 0 ? true : undefined),
        10_000,
        'the playlist waiting for the probe',
        10,
      );
      assert.equal(answered, false, 'no answer while the probe is held');
      probes.release();
      const master = await pending;
      assert.equal(master.status, 200);
      assert.match(master.text, /CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2",RESOLUTION=320x180/);
      assertConformantMultivariant(master.text);
    } finally {
      probes.release();
      waits.restore();
    }
  });

  it('answers without the description once the probe wait is over, while the probe is still held', async () => {
    const impatient = heldProbe(async () => ({}));
    const quick = await startTestServer({}, 200, {
      ingest: { probe: impatient.probe, warn: () => {} },
      hls: { ...HLS_DEFAULTS, probeWaitMs: 50 },
    });
    impatient.hold();
    try {
      await call(`${quick.url}/api/v1/streams/start`, 'POST', { recording_id: 'stuck' });
      const session = await join(quick, 'stuck', 'waiting');
      await push(quick.url, 'stuck', 'Low', segments, 0);
      assert.equal(impatient.asked, 1);
      const master = await text(`${quick.url}/live/stuck/master.m3u8?session=${session}`);
      assert.equal(master.status, 200);
      assert.equal(impatient.released, false, 'answered while the probe was still held');
      assert.doesNotMatch(master.text, /CODECS=/);
      assert.match(master.text, /#EXT-X-STREAM-INF:BANDWIDTH=\d+/);
    } finally {
      impatient.release();
      await quick.close();
    }
  });

  it('probes again after a bad first segment, and ends with CODECS and RESOLUTION', async () => {
    await call(`${server.url}/api/v1/streams/start`, 'POST', { recording_id: 'spoiled' });
    const session = await join(server, 'spoiled', 'patient');
    const garbage = new Uint8Array(50_000).fill(0x5a);
    await push(server.url, 'spoiled', 'Low', segments, 0, garbage);
    await waitFor(
      async () => (warnings.some((w) => /spoiled\/Low \(attempt 1 of/.test(w)) ? true : undefined),
      5000,
      'the failed first probe',
      50,
    );
    for (let i = 1; i < 4; i++) await push(server.url, 'spoiled', 'Low', segments, i);
    const master = await waitFor(
      async () => {
        const m = await text(`${server.url}/live/spoiled/master.m3u8?session=${session}`);
        return /CODECS=/.test(m.text) ? m.text : undefined;
      },
      5000,
      'CODECS after the retried probe',
    );
    assert.match(master, /CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2",RESOLUTION=320x180/);
    assertConformantMultivariant(master);
  });

  it('lists a lost upload as EXT-X-GAP, which hls.js marks as a gap and ffmpeg plays through', async () => {
    await call(`${server.url}/api/v1/streams/start`, 'POST', { recording_id: 'lossy' });
    for (let i = 0; i < segments.length; i++) {
      await push(server.url, 'lossy', 'Medium', segments, i);
      // Low's upload of segment 2 never arrives; its playlist still lists it.
      await push(server.url, 'lossy', 'Low', segments, i, i === 2 ? null : segments[i]?.bytes);
    }
    await call(`${server.url}/api/v1/streams/lossy/end`, 'POST');
    const url = `${server.url}/live/lossy/Low/index.m3u8`;
    const low = await text(url);
    assertConformantMedia(low.text);
    const parsed = HLS.parse(low.text) as MediaPlaylist;
    assert.deepEqual(
      parsed.segments.map((s) => [s.mediaSequenceNumber, s.gap === true]),
      [0, 1, 2, 3, 4].map((n) => [n, n === 2]),
    );
    assert.equal(parsed.segments[2]?.duration, Number(segments[2]?.duration));
    const details = hlsJsLevel(low.text, url);
    assert.deepEqual(
      details.fragments.map((f) => [f.sn, f.gap === true]),
      [0, 1, 2, 3, 4].map((n) => [n, n === 2]),
    );
    const decoded = await run('ffmpeg', ['-v', 'error', '-i', url, '-f', 'null', '-']);
    assert.equal(decoded.code, 0, decoded.stderr);
  });
});

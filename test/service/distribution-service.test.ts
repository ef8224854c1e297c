import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { seedBufferPolicy } from '../../src/core/quality.js';
import {
  DistributionService,
  type DistributionServiceOptions,
} from '../../src/service/distribution-service.js';
import { startFakeCdn } from '../helpers/http.js';
import { ALL_PROFILES, segmentInput } from '../helpers/segments.js';

const FAST_BACKOFF = { minMs: 5, maxMs: 20, factor: 2 };
const services: DistributionService[] = [];

function service(options: DistributionServiceOptions = {}): DistributionService {
  const s = new DistributionService({ backoff: FAST_BACKOFF, ...options });
  services.push(s);
  return s;
}

function publish(s: DistributionService, rec: string, from: number, to: number): void {
  for (let i = from; i < to; i++)
    for (const p of ALL_PROFILES) s.addSegmentToStream(rec, segmentInput(i, p));
}

async function settled(s: DistributionService, deliveryId: string): Promise<string> {
  for (let i = 0; i < 1000; i++) {
    const state = s.deliveryStatus(deliveryId).state;
    if (state === 'delivered' || state === 'failed') return state;
    await sleep(2);
  }
  throw new Error(`delivery ${deliveryId} did not settle`);
}

afterEach(async () => {
  for (const s of services.splice(0)) await s.shutdown(500);
});

describe('DistributionService', () => {
  it('starts a stream once; a second start is a conflict until the stream ends', () => {
    const s = service();
    assert.equal(s.startLiveStream('rec', 10).maxViewers, 10);
    assert.equal(s.getDistributor('rec').maxViewers, 10);
    assert.throws(() => s.startLiveStream('rec'), { code: 'STREAM_EXISTS' });
    s.endLiveStream('rec');
    assert.equal(s.startLiveStream('rec').maxViewers, 100, 'an ended stream can be started again');
    assert.throws(() => s.getDistributor('nope'), { code: 'STREAM_NOT_FOUND' });
  });

  it('creates a distributor with its own cap and retention, and lists every stream', () => {
    const s = service({ retentionMs: 30_000 });
    const custom = s.createDistributor('a', { maxViewers: 7, retentionMs: 4000 });
    assert.deepEqual([custom.maxViewers, custom.retentionMs], [7, 4000]);
    s.startLiveStream('b');
    assert.throws(() => s.createDistributor('a'), { code: 'STREAM_EXISTS' });
    assert.deepEqual(
      s.getAllStreamStatistics().map((st) => [st.recordingId, st.maxViewers, st.status]),
      [
        ['a', 7, 'live'],
        ['b', 100, 'live'],
      ],
    );
  });

  it('gives viewers unguessable 128-bit session ids and finds sessions by id', () => {
    const s = service();
    s.startLiveStream('rec', 2000);
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) ids.add(s.joinStream('rec', `v${i}`).sessionId);
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.match(id, /^vs-[A-Za-z0-9_-]{22}$/);
    const joined = s.joinStream('rec', 'x', 'High');
    assert.equal(s.findSession(joined.sessionId)?.session.viewerId, 'x');
    s.leaveStream('rec', 'x');
    assert.equal(s.findSession(joined.sessionId), undefined);
    assert.equal(s.getStreamViewers('rec').length, 1000);
  });

  it('delivers a queued segment at the viewer bitrate; the viewer gets it next, counted once', async () => {
    const s = service();
    s.startLiveStream('rec');
    publish(s, 'rec', 0, 5);
    s.joinStream('rec', 'v', 'Medium');
    const queued = s.deliverSegmentToViewer('rec', 'v', 'seg-1', 7);
    assert.equal(queued.profile, 'Medium');
    assert.equal(queued.priority, 7);
    assert.equal(await settled(s, queued.deliveryId), 'delivered');
    const next = await s.waitForNextSegment('rec', 'v', 0);
    assert.equal(next?.id, 'seg-1');
    assert.equal(next?.profile, 'Medium');
    const stats = s.getStreamStatistics('rec');
    assert.equal(stats.totalSegmentsServed, 1);
    assert.equal(stats.totalBytesServed, next?.data.byteLength);
  });

  it('refuses at once a delivery of an unknown segment, viewer or stream', () => {
    const s = service();
    s.startLiveStream('rec');
    publish(s, 'rec', 0, 1);
    s.joinStream('rec', 'v');
    assert.throws(() => s.deliverSegmentToViewer('rec', 'v', 'seg-9'), {
      code: 'SEGMENT_NOT_FOUND',
    });
    assert.throws(() => s.deliverSegmentToViewer('rec', 'w', 'seg-0'), {
      code: 'VIEWER_NOT_FOUND',
    });
    assert.throws(() => s.deliverSegmentToViewer('no', 'v', 'seg-0'), { code: 'STREAM_NOT_FOUND' });
    assert.throws(() => s.deliveryStatus('dl-unknown'), { code: 'DELIVERY_NOT_FOUND' });
  });

  it('reports a CDN hit rate of 0 with no CDN traffic', () => {
    const s = service();
    const m = s.getMetrics();
    assert.equal(m.cdnEnabled, false);
    assert.equal(m.cdnCacheHitRate, 0);
  });

  it('pushes a segment to the CDN once and counts later deliveries of it as hits', async () => {
    const cdn = await startFakeCdn();
    try {
      const s = service();
      s.enableCDN(`${cdn.url}/edge/`);
      s.startLiveStream('rec');
      publish(s, 'rec', 0, 3);
      for (const v of ['a', 'b', 'c']) s.joinStream('rec', v, 'Low');
      for (const v of ['a', 'b', 'c']) {
        const { deliveryId } = s.deliverSegmentToViewer('rec', v, 'seg-2');
        assert.equal(await settled(s, deliveryId), 'delivered');
      }
      const expectedBytes = s.getDistributor('rec').window('Low').get('seg-2')?.data.byteLength;
      assert.deepEqual(cdn.requests, [
        { method: 'PUT', url: '/edge/live/rec/Low/seg-2', bytes: expectedBytes },
      ]);
      const m = s.getMetrics();
      assert.equal(m.cdnHits, 2);
      assert.equal(m.cdnMisses, 1);
      assert.equal(m.cdnCacheHitRate, 2 / 3);
      s.disableCDN();
      assert.equal(s.getMetrics().cdnEnabled, false);
    } finally {
      await cdn.close();
    }
  });

  it('retries a failing CDN push and counts every failed attempt', async () => {
    const cdn = await startFakeCdn((_req, index) => (index < 2 ? 503 : 201));
    try {
      const s = service();
      s.enableCDN(cdn.url);
      s.startLiveStream('rec');
      publish(s, 'rec', 0, 1);
      s.joinStream('rec', 'v', 'High');
      const { deliveryId } = s.deliverSegmentToViewer('rec', 'v', 'seg-0');
      assert.equal(await settled(s, deliveryId), 'delivered');
      assert.equal(s.deliveryStatus(deliveryId).attempts, 3);
      assert.equal(cdn.requests.length, 3);
      assert.equal(s.getMetrics().totalDeliveryFailures, 2);
      assert.equal(s.getStreamStatistics('rec').viewers[0]?.segmentsReceived, 1);
    } finally {
      await cdn.close();
    }
  });

  it('fails a delivery after the profile retries; the viewer gets nothing and health degrades', async () => {
    const cdn = await startFakeCdn(() => 500);
    try {
      const s = service();
      s.enableCDN(cdn.url);
      s.startLiveStream('rec');
      publish(s, 'rec', 0, 1);
      s.joinStream('rec', 'v', 'High'); // High: 2 retries
      const { deliveryId } = s.deliverSegmentToViewer('rec', 'v', 'seg-0');
      assert.equal(await settled(s, deliveryId), 'failed');
      assert.match(s.deliveryStatus(deliveryId).error ?? '', /answered 500/);
      assert.equal(cdn.requests.length, 3);
      assert.equal(s.getMetrics().totalDeliveryFailures, 3);
      assert.equal(s.getStreamStatistics('rec').totalSegmentsServed, 0);
      assert.equal(s.health().status, 'degraded');
    } finally {
      await cdn.close();
    }
  });

  it('counts exactly under hundreds of concurrent deliveries to many viewers', async () => {
    const s = service({ workers: 4 });
    s.startLiveStream('rec', 1000);
    publish(s, 'rec', 0, 10);
    for (let i = 0; i < 300; i++) s.joinStream('rec', `v${i}`, ALL_PROFILES[i % 4]);
    const ids: string[] = [];
    let bytes = 0;
    for (let i = 0; i < 300; i++) {
      for (const seg of ['seg-3', 'seg-7']) {
        ids.push(s.deliverSegmentToViewer('rec', `v${i}`, seg).deliveryId);
        const profile = s.getDistributor('rec').session(`v${i}`).currentBitrate;
        bytes += s.getDistributor('rec').window(profile).get(seg)?.data.byteLength ?? 0;
      }
    }
    const states = await Promise.all(ids.map((id) => settled(s, id)));
    assert.ok(states.every((state) => state === 'delivered'));
    const stats = s.getStreamStatistics('rec');
    assert.equal(stats.totalSegmentsServed, 600);
    assert.equal(stats.totalBytesServed, bytes);
    assert.ok(stats.viewers.every((v) => v.segmentsReceived === 2));
    assert.equal(s.getMetrics().deliveryQueue.delivered, 600);
  });

  it('adapts a viewer through the service', () => {
    const s = service({ policy: seedBufferPolicy });
    s.startLiveStream('rec');
    s.joinStream('rec', 'v', 'High');
    assert.deepEqual(s.adaptViewerQuality('rec', 'v', 10), {
      previous: 'High',
      current: 'VeryLow',
      switched: true,
      reason: 'buffer health 10 < 20: lowest',
    });
    assert.equal(s.switchViewerBitrate('rec', 'v', 'Medium'), 'Medium');
  });

  it('expires segments on cleanup and retires ended streams after the retention window, with fake time', async () => {
    let now = 1_000_000;
    const cdn = await startFakeCdn();
    try {
      const s = service({ clock: () => now, retentionMs: 30_000 });
      s.enableCDN(cdn.url);
      s.startLiveStream('rec');
      publish(s, 'rec', 0, 2);
      s.joinStream('rec', 'v', 'Low');
      const first = s.deliverSegmentToViewer('rec', 'v', 'seg-0');
      await settled(s, first.deliveryId);
      now += 20_000;
      publish(s, 'rec', 2, 4);
      now += 10_001;
      s.cleanup();
      assert.deepEqual(s.getStreamStatistics('rec').segmentsAvailable, {
        VeryLow: 2,
        Low: 2,
        Medium: 2,
        High: 2,
      });
      s.joinStream('rec', 'late', 'Low');
      assert.throws(() => s.deliverSegmentToViewer('rec', 'late', 'seg-0'), {
        code: 'SEGMENT_NOT_FOUND',
      });
      s.endLiveStream('rec');
      now += 30_000;
      s.cleanup();
      assert.equal(s.getStreamStatistics('rec').status, 'ended', 'still readable within retention');
      now += 1;
      s.cleanup();
      assert.throws(() => s.getStreamStatistics('rec'), { code: 'STREAM_NOT_FOUND' });
      const m = s.getMetrics();
      assert.equal(m.totalDistributors, 0);
      assert.equal(m.totalSegmentsServed, 1, 'totals of retired streams are kept');
    } finally {
      await cdn.close();
    }
  });

  it('lets viewers with no request for the idle timeout leave by themselves, with fake time', () => {
    let now = 0;
    const s = service({ clock: () => now, idleTimeoutMs: 18_000 });
    s.startLiveStream('rec');
    publish(s, 'rec', 0, 3);
    const quiet = s.joinStream('rec', 'quiet');
    s.joinStream('rec', 'busy');
    now = 10_000;
    s.getDistributor('rec').getNextSegment('busy', now);
    now = 18_001;
    s.cleanup();
    assert.deepEqual(
      s.getStreamViewers('rec').map((v) => v.viewerId),
      ['busy'],
    );
    assert.equal(s.findSession(quiet.sessionId), undefined);
    assert.equal(s.getStreamStatistics('rec').peakViewers, 2);
    now = 28_001;
    s.cleanup();
    assert.equal(s.getStreamStatistics('rec').activeViewers, 0);
  });

  it('sums metrics across streams', () => {
    const s = service();
    for (const rec of ['a', 'b']) {
      s.startLiveStream(rec);
      publish(s, rec, 0, 4);
      s.joinStream(rec, 'v1');
      s.joinStream(rec, 'v2');
      s.getDistributor(rec).getNextSegment('v1', 0);
    }
    s.endLiveStream('b');
    const m = s.getMetrics();
    assert.equal(m.totalDistributors, 2);
    assert.equal(m.liveStreams, 1);
    assert.equal(m.totalActiveViewers, 4);
    assert.equal(m.totalSegmentsServed, 2);
    assert.equal(
      m.totalBytesServed,
      s.getStreamStatistics('a').totalBytesServed + s.getStreamStatistics('b').totalBytesServed,
    );
  });

  it('long-polls at the live edge: resolves when a segment is published, or empty after the wait', async () => {
    const s = service();
    s.startLiveStream('rec');
    s.joinStream('rec', 'v', 'Low');
    assert.equal(await s.waitForNextSegment('rec', 'v', 20), undefined);
    const waiting = s.waitForNextSegment('rec', 'v', 5000);
    setTimeout(() => publish(s, 'rec', 0, 1), 20);
    assert.equal((await waiting)?.id, 'seg-0');
    const ending = s.waitForNextSegment('rec', 'v', 5000);
    setTimeout(() => s.endLiveStream('rec'), 20);
    assert.equal(await ending, undefined);
  });

  it('stops taking deliveries on shutdown and releases long-polls', async () => {
    const s = service();
    s.startLiveStream('rec');
    publish(s, 'rec', 0, 1);
    s.joinStream('rec', 'v');
    s.joinStream('rec', 'w');
    s.getDistributor('rec').getNextSegment('w', 0);
    const waiting = s.waitForNextSegment('rec', 'w', 5000);
    assert.equal(await s.shutdown(100), true);
    assert.equal(await waiting, undefined);
    assert.throws(() => s.deliverSegmentToViewer('rec', 'v', 'seg-0'), { code: 'SHUTTING_DOWN' });
    assert.equal(s.health().status, 'degraded');
  });
});

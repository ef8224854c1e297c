import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { deserialize, serialize } from 'node:v8';
import { ReplicaFeed } from '../../src/cluster/replica-feed.js';
import type { PrimaryMessage } from '../../src/cluster/replica-messages.js';
import { renderOnce, StreamReplicas } from '../../src/cluster/stream-replicas.js';
import type { ProfileName } from '../../src/core/profiles.js';
import { initFileName, MP4, segmentFileName } from '../../src/core/segment.js';
import { DistributionService } from '../../src/service/distribution-service.js';
import { HlsDelivery } from '../../src/service/hls-delivery.js';

const HLS = { playlistSegments: 6 };

/** The primary's service and HLS delivery, and workers' replicas fed through a real feed. */
function primary(options: { clock?: () => number } = {}) {
  const service = new DistributionService({ retentionMs: 30_000, ...options });
  const hls = new HlsDelivery(service, HLS);
  const workers: StreamReplicas[] = [];
  // What crosses the IPC channel is a copy: serialized as the cluster's 'advanced' mode does.
  const feed = new ReplicaFeed(
    service,
    (message) => {
      for (const worker of workers) worker.apply(copy(message));
    },
    (recordingId, profile) => renderOnce(hls, recordingId, profile),
  );
  feed.start();
  /** A worker starting now: its snapshot first, every broadcast after. */
  const join = (): StreamReplicas => {
    const worker = new StreamReplicas(HLS);
    for (const message of feed.snapshot()) worker.apply(copy(message));
    workers.push(worker);
    return worker;
  };
  cleanups.push(() => service.shutdown(0));
  return { service, hls, feed, join };
}

function copy(message: PrimaryMessage): PrimaryMessage {
  return deserialize(serialize(message)) as PrimaryMessage;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** Publishes sequence `n` of `profile` with a duration and optional discontinuity. */
function publish(
  service: DistributionService,
  id: string,
  profile: ProfileName,
  n: number,
  durationSec = 2,
  discontinuity = false,
): void {
  const incarnation = service.getDistributor(id).incarnation;
  service.addSegmentToStream(id, {
    id: segmentFileName(incarnation, n, false),
    sequence: n,
    profile,
    durationSec,
    discontinuity,
    data: new Uint8Array(1500 + n).fill(n % 251),
  });
}

function samePlaylists(
  p: ReturnType<typeof primary>,
  worker: StreamReplicas,
  id: string,
  profiles: ProfileName[],
  sessionId?: string,
): void {
  const replica = worker.get(id);
  assert.ok(replica, `the worker holds ${id}`);
  for (const profile of profiles) {
    assert.equal(
      replica.hls.mediaPlaylist(id, profile, { sessionId }),
      p.hls.mediaPlaylist(id, profile, { sessionId }),
      `${profile} playlist`,
    );
  }
}

describe('stream replicas', () => {
  it('render every media playlist as the primary does, for workers started before and after', () => {
    const p = primary();
    const early = p.join();
    p.service.startLiveStream('lecture');
    // Fractional durations first (EXT-X-VERSION 3), then whole ones: the version never falls back.
    for (let n = 0; n < 4; n++)
      for (const profile of ['Low', 'High'] as const)
        publish(p.service, 'lecture', profile, n, 2.04);
    for (let n = 4; n < 12; n++) publish(p.service, 'lecture', 'Low', n, 2);
    // A lost upload (13 missing) is a gap; an encoder restart is a discontinuity.
    publish(p.service, 'lecture', 'Low', 14, 2);
    publish(p.service, 'lecture', 'Low', 15, 2, true);
    publish(p.service, 'lecture', 'High', 15, 2, true);
    const late = p.join();
    samePlaylists(p, early, 'lecture', ['Low', 'High']);
    samePlaylists(p, late, 'lecture', ['Low', 'High']);
    const text = p.hls.mediaPlaylist('lecture', 'Low', {});
    assert.match(text, /#EXT-X-GAP/);
    assert.match(text, /#EXT-X-DISCONTINUITY\n/);
    assert.match(text, /#EXT-X-VERSION:3/);
    const segment = p.service.getDistributor('lecture').window('Low').newest;
    assert.ok(segment);
    const held = early.get('lecture')?.hls.object('lecture', 'Low', segment.id);
    assert.ok(held && 'sequence' in held);
    assert.deepEqual(Buffer.from(held.data), Buffer.from(segment.data));
    assert.equal(held.etag, segment.etag);
    assert.equal(held.programDateTime, segment.programDateTime);
  });

  it('know exactly the seated sessions: seats, leaves and the snapshot', () => {
    const p = primary();
    const early = p.join();
    p.service.startLiveStream('lecture');
    publish(p.service, 'lecture', 'Low', 0);
    const ada = p.service.joinStream('lecture', 'ada', 'Medium');
    const waiting = p.service.newSession();
    p.service.joinAnonymous('lecture', waiting);
    const bob = p.service.joinStream('lecture', 'bob');
    p.service.leaveStream('lecture', 'bob');
    const late = p.join();
    for (const worker of [early, late]) {
      const replica = worker.get('lecture');
      assert.ok(replica);
      assert.equal(replica.service.findSession(ada.sessionId)?.session.viewerId, 'ada');
      assert.ok(replica.service.findSession(waiting));
      assert.equal(replica.service.findSession(bob.sessionId), undefined);
      assert.equal(replica.service.findSession('vs-unknown'), undefined);
    }
    samePlaylists(p, late, 'lecture', ['Low'], ada.sessionId);
  });

  it('render the multivariant playlist of a session once media descriptions are synced', async () => {
    const p = primary();
    const worker = p.join();
    p.service.startLiveStream('lecture');
    for (const profile of ['VeryLow', 'Low', 'Medium', 'High'] as const)
      publish(p.service, 'lecture', profile, 0);
    const session = p.service.joinStream('lecture', 'ada');
    p.service.getDistributor('lecture').setMediaInfo('Low', {
      width: 426,
      height: 240,
      frameRate: 15,
      codecs: 'avc1.42c015,mp4a.40.2',
    });
    p.feed.sync();
    const replica = worker.get('lecture');
    assert.ok(replica);
    assert.deepEqual(
      replica.distributor.mediaInfo('Low'),
      p.service.getDistributor('lecture').mediaInfo('Low'),
    );
    const report = { sessionId: session.sessionId };
    const mine = await replica.hls.multivariant('lecture', report);
    const theirs = await p.hls.multivariant('lecture', report);
    assert.equal(mine.text, theirs.text);
    assert.equal(mine.sessionId, session.sessionId);
    assert.match(mine.text, /CODECS="avc1.42c015,mp4a.40.2"/);
  });

  it('follow the end, the replacement and the removal of a stream', () => {
    const p = primary();
    const worker = p.join();
    p.service.startLiveStream('lecture');
    publish(p.service, 'lecture', 'Low', 0);
    const first = p.service.getDistributor('lecture').incarnation;
    p.service.endLiveStream('lecture');
    samePlaylists(p, worker, 'lecture', ['Low']);
    assert.match(
      worker.get('lecture')?.hls.mediaPlaylist('lecture', 'Low', {}) ?? '',
      /#EXT-X-ENDLIST/,
    );
    // The id started again: the old incarnation goes, the new one's URLs are the primary's.
    p.service.startLiveStream('lecture');
    publish(p.service, 'lecture', 'Low', 0);
    const second = p.service.getDistributor('lecture').incarnation;
    assert.notEqual(second, first);
    assert.equal(worker.get('lecture')?.incarnation, second);
    samePlaylists(p, worker, 'lecture', ['Low']);
    assert.equal(
      worker.get('lecture')?.hls.object('lecture', 'Low', segmentFileName(first, 0, false)),
      undefined,
    );
  });

  it('hold init sections and the CDN setting as the primary does', () => {
    const p = primary();
    const worker = p.join();
    p.service.startLiveStream('lecture');
    const distributor = p.service.getDistributor('lecture');
    const init = {
      id: initFileName(distributor.incarnation, 0),
      data: new Uint8Array([1, 2, 3]),
      contentType: MP4,
      etag: '"i0"',
    };
    distributor.putInit('Low', init);
    p.service.addSegmentToStream('lecture', {
      id: segmentFileName(distributor.incarnation, 0, true),
      sequence: 0,
      profile: 'Low',
      durationSec: 2,
      data: new Uint8Array(100),
      contentType: MP4,
      initId: init.id,
    });
    const held = worker.get('lecture')?.hls.object('lecture', 'Low', init.id);
    assert.deepEqual(held && Buffer.from(held.data), Buffer.from([1, 2, 3]));
    samePlaylists(p, worker, 'lecture', ['Low']);
    p.service.enableCDN('https://cdn.example.com');
    p.feed.sync();
    samePlaylists(p, worker, 'lecture', ['Low']);
    assert.match(
      worker.get('lecture')?.hls.mediaPlaylist('lecture', 'Low', {}) ?? '',
      /https:\/\/cdn\.example\.com\/live\/lecture\/Low\//,
    );
  });

  it('learn of a stream restored without an event at the next sync', () => {
    const p = primary();
    const worker = p.join();
    p.service.restoreStream({
      recordingId: 'restored',
      incarnation: 'feedc0ffee00',
      startedAt: Date.now(),
      endedAt: undefined,
      maxViewers: 10,
      retentionMs: 30_000,
      nextSequence: 0,
      served: { segments: 0, bytes: 0 },
      viewers: [
        {
          viewerId: 'ada',
          sessionId: 'vs-ada',
          currentBitrate: 'Low',
          targetBitrate: 'Low',
          joinedAt: Date.now(),
          joinSeq: 1,
          lastSeenAt: Date.now(),
          lastSequence: -1,
          segmentsReceived: 0,
          bytesReceived: 0,
          bufferHealth: 50,
          throughputKbps: 0,
          bitrateHistory: [],
        },
      ],
    });
    assert.equal(worker.get('restored'), undefined);
    p.feed.sync();
    assert.equal(worker.get('restored')?.incarnation, 'feedc0ffee00');
    assert.ok(worker.get('restored')?.service.findSession('vs-ada'));
  });

  it('expire segments by the primary’s publication times and retention', () => {
    let now = Date.now() - 60_000;
    const p = primary({ clock: () => now });
    const worker = p.join();
    p.service.startLiveStream('lecture');
    publish(p.service, 'lecture', 'Low', 0);
    now = Date.now();
    publish(p.service, 'lecture', 'Low', 1);
    worker.cleanup();
    const window = worker.get('lecture')?.distributor.window('Low');
    assert.equal(window?.size, 1);
    assert.equal(window?.oldest?.sequence, 1);
  });
});

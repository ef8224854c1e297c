import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { SqliteStore } from '../../src/storage/sqlite-store.js';
import type { SessionRecord, Store } from '../../src/storage/store.js';
import { encoderJobRecord, sessionRecord, streamRecord, tempDir } from './store-fixtures.js';

/**
 * One contract, run against every Store: what a consumer (restart recovery, the attendance
 * report) may rely on whichever store the server runs with.
 */
const STORES: Record<string, (t: TestContext) => Promise<Store>> = {
  memory: async () => new MemoryStore(),
  sqlite: async (t) => {
    const dir = await tempDir(t);
    // A long interval: reads must see queued writes because they apply the queue, not because
    // a timer happened to run.
    const store = new SqliteStore(path.join(dir, 'vtp.db'), {
      batchIntervalMs: 60_000,
      onError: () => {}, // what it reports is sqlite-store.test.ts's business
    });
    t.after(() => store.close());
    return store;
  },
};

for (const [name, open] of Object.entries(STORES)) {
  describe(`Store contract: ${name}`, () => {
    it('gives a saved stream back with every field', async (t) => {
      const store = await open(t);
      const record = streamRecord();
      store.saveStream(record);
      assert.deepEqual(store.getStream('lecture-1'), record);
      assert.deepEqual(store.listStreams(), [record]);
      assert.equal(store.getStream('other'), undefined);
    });

    it('keeps a stream without optional fields as undefined, not null', async (t) => {
      const store = await open(t);
      const record = streamRecord({ publishKeyHash: undefined, targetDurationSec: undefined });
      store.saveStream(record);
      assert.deepEqual(store.getStream('lecture-1'), record);
    });

    it('merges updates of a stream and keeps the fields an update leaves out', async (t) => {
      const store = await open(t);
      store.saveStream(streamRecord({ targetDurationSec: undefined, nextSequence: 0 }));
      store.updateStream('lecture-1', { targetDurationSec: 4 });
      store.updateStream('lecture-1', { nextSequence: 30, discontinuitySequences: { Low: 3 } });
      store.updateStream('lecture-1', { nextSequence: 31, targetDurationSec: undefined });
      const stored = store.getStream('lecture-1');
      assert.equal(stored?.targetDurationSec, 4);
      assert.equal(stored?.nextSequence, 31);
      assert.deepEqual(stored?.discontinuitySequences, { Low: 3 });
      assert.equal(stored?.incarnation, 'inc-a');
      assert.equal(stored?.publishKeyHash, streamRecord().publishKeyHash);
    });

    it('sets the ended flag, and ignores updates of a stream it does not hold', async (t) => {
      const store = await open(t);
      store.saveStream(streamRecord());
      store.endStream('lecture-1', 50_000);
      store.endStream('ghost', 50_000);
      store.updateStream('ghost', { nextSequence: 3 });
      assert.equal(store.getStream('lecture-1')?.endedAt, 50_000);
      assert.deepEqual(
        store.listStreams().map((s) => s.recordingId),
        ['lecture-1'],
      );
    });

    it('replaces a stream whose recording id is reused, lists streams in start order', async (t) => {
      const store = await open(t);
      store.saveStream(streamRecord({ recordingId: 'b', startedAt: 5 }));
      store.saveStream(streamRecord({ recordingId: 'a', startedAt: 9 }));
      store.endStream('b', 6);
      store.saveStream(streamRecord({ recordingId: 'b', startedAt: 7, incarnation: 'inc-b' }));
      store.updateStream('b', { nextSequence: 2 });
      const streams = store.listStreams();
      assert.deepEqual(
        streams.map((s) => [s.recordingId, s.incarnation, s.endedAt, s.nextSequence]),
        [
          ['b', 'inc-b', undefined, 2],
          ['a', 'inc-a', undefined, 17],
        ],
      );
    });

    it('applies writes in the order they were made across deletion and reuse', async (t) => {
      const store = await open(t);
      store.saveStream(streamRecord());
      store.updateStream('lecture-1', { nextSequence: 99 });
      store.deleteStream('lecture-1');
      store.updateStream('lecture-1', { nextSequence: 98 }); // after the deletion: nothing to update
      assert.equal(store.getStream('lecture-1'), undefined);
      store.saveStream(streamRecord({ incarnation: 'inc-c', nextSequence: 0 }));
      store.updateStream('lecture-1', { nextSequence: 5 });
      assert.equal(store.getStream('lecture-1')?.nextSequence, 5);
      assert.equal(store.getStream('lecture-1')?.incarnation, 'inc-c');
    });

    it('gives a saved session back with counters, profile times and histories', async (t) => {
      const store = await open(t);
      const record = sessionRecord();
      store.saveSession(record.sessionId, () => record);
      assert.deepEqual(store.listSessions('lecture-1'), [record]);
      assert.deepEqual(store.listSessions('other'), []);
    });

    it('records the state a session has when the write is applied, not when it was queued', async (t) => {
      const store = await open(t);
      // A consumer hands a snapshot function over a live object, as it will with ViewerSession.
      const live = { segments: 1, bytes: 100 };
      const snapshot = (): SessionRecord =>
        sessionRecord({ segmentsReceived: live.segments, bytesReceived: live.bytes });
      store.saveSession('vs-1', snapshot);
      live.segments = 5;
      live.bytes = 900;
      store.saveSession('vs-1', snapshot);
      const [stored] = store.listSessions('lecture-1');
      assert.equal(stored?.segmentsReceived, 5);
      assert.equal(stored?.bytesReceived, 900);
    });

    it("lists a stream's sessions in join order, with the ones that left", async (t) => {
      const store = await open(t);
      store.saveSession('vs-b', () => sessionRecord({ sessionId: 'vs-b', joinSeq: 2 }));
      store.saveSession('vs-a', () =>
        sessionRecord({ sessionId: 'vs-a', joinSeq: 1, anonymous: true, viewerId: 'anon-x' }),
      );
      store.saveSession('vs-c', () =>
        sessionRecord({ sessionId: 'vs-c', joinSeq: 3, leftAt: 20_000, leaveReason: 'idle' }),
      );
      const sessions = store.listSessions('lecture-1');
      assert.deepEqual(
        sessions.map((s) => [s.sessionId, s.anonymous, s.leftAt, s.leaveReason]),
        [
          ['vs-a', true, undefined, undefined],
          ['vs-b', false, undefined, undefined],
          ['vs-c', false, 20_000, 'idle'],
        ],
      );
    });

    it("deletes a stream with its sessions and leaves other streams' sessions", async (t) => {
      const store = await open(t);
      store.saveStream(streamRecord());
      store.saveStream(streamRecord({ recordingId: 'lecture-2' }));
      store.saveSession('vs-1', () => sessionRecord());
      store.saveSession('vs-2', () =>
        sessionRecord({ sessionId: 'vs-2', recordingId: 'lecture-2' }),
      );
      store.deleteStream('lecture-1');
      // A session written after the deletion belongs to a new life of the id and stays.
      store.saveSession('vs-3', () => sessionRecord({ sessionId: 'vs-3' }));
      assert.deepEqual(
        store.listSessions('lecture-1').map((s) => s.sessionId),
        ['vs-3'],
      );
      assert.deepEqual(
        store.listSessions('lecture-2').map((s) => s.sessionId),
        ['vs-2'],
      );
    });

    it('never lets a counter go back', async (t) => {
      const store = await open(t);
      store.raiseCounter('segments_served_total', 10);
      store.raiseCounter('segments_served_total', 4);
      store.raiseCounter('bytes_served_total', 2 ** 40);
      assert.deepEqual(store.readCounters(), {
        segments_served_total: 10,
        bytes_served_total: 2 ** 40,
      });
      store.raiseCounter('segments_served_total', 3);
      store.raiseCounter('segments_served_total', 12);
      store.raiseCounter('segments_served_total', 11);
      assert.equal(store.readCounters().segments_served_total, 12);
    });

    it('keeps encoder jobs with their source, state changes and deletions', async (t) => {
      const store = await open(t);
      const job = encoderJobRecord();
      store.saveEncoderJob(job);
      store.saveEncoderJob(
        encoderJobRecord({
          jobId: 'enc-2',
          recordingId: 'lecture-2',
          source: { type: 'file', path: 'talk.mp4', loop: false },
          fmp4: false,
          durationSec: 60,
          startedAt: 4_000,
        }),
      );
      store.saveEncoderJob(
        encoderJobRecord({ jobId: 'enc-3', source: { type: 'test-pattern' }, startedAt: 5_000 }),
      );
      store.setEncoderJobState('enc-1', 'restarting');
      store.setEncoderJobState('ghost', 'stopped');
      store.deleteEncoderJob('enc-3');
      assert.deepEqual(store.listEncoderJobs(), [
        { ...job, state: 'restarting' },
        {
          ...encoderJobRecord(),
          jobId: 'enc-2',
          recordingId: 'lecture-2',
          source: { type: 'file', path: 'talk.mp4', loop: false },
          fmp4: false,
          durationSec: 60,
          startedAt: 4_000,
        },
      ]);
    });

    it("keeps stream keys, replaces a stream's key, forgets a deleted one, lists by id", async (t) => {
      const store = await open(t);
      store.saveStreamKey('lecture-b', 'key-b-0000000000000000000000000a');
      store.saveStreamKey('lecture-a', 'key-a-0000000000000000000000000a');
      store.saveStreamKey('lecture-c', 'key-c-0000000000000000000000000a');
      store.saveStreamKey('lecture-b', 'key-b-0000000000000000000000000b');
      store.deleteStreamKey('lecture-c');
      store.deleteStreamKey('ghost');
      assert.deepEqual(store.listStreamKeys(), [
        { recordingId: 'lecture-a', key: 'key-a-0000000000000000000000000a' },
        { recordingId: 'lecture-b', key: 'key-b-0000000000000000000000000b' },
      ]);
    });

    it('applies stream key writes in the order they were made', async (t) => {
      const store = await open(t);
      store.saveStreamKey('lecture-1', 'key-1-0000000000000000000000000a');
      store.deleteStreamKey('lecture-1');
      store.saveStreamKey('lecture-2', 'key-2-0000000000000000000000000a');
      store.deleteStreamKey('lecture-2');
      store.saveStreamKey('lecture-2', 'key-2-0000000000000000000000000b');
      assert.deepEqual(store.listStreamKeys(), [
        { recordingId: 'lecture-2', key: 'key-2-0000000000000000000000000b' },
      ]);
      // A stream's deletion leaves its key to deleteStreamKey: the owner of keys decides.
      store.saveStream(streamRecord({ recordingId: 'lecture-2' }));
      store.deleteStream('lecture-2');
      assert.equal(store.listStreamKeys().length, 1);
    });

    it('ignores writes after close without throwing at the writer', async (t) => {
      const store = await open(t);
      store.close();
      assert.doesNotThrow(() => {
        store.saveStream(streamRecord());
        store.saveSession('vs-1', () => sessionRecord());
        store.raiseCounter('x', 1);
        store.saveStreamKey('lecture-2', 'key-2-0000000000000000000000000a');
        store.deleteStreamKey('lecture-1');
      });
    });
  });
}

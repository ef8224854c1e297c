import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  InitSectionsFullError,
  MAX_PENDING_FILES,
  PendingFullError,
  type PlaylistEntry,
  SegmentAssembler,
} from '../../src/ingest/segment-assembler.js';

const bytes = (n: number) => new Uint8Array(10 + n);
const entry = (seq: number, extra: Partial<PlaylistEntry> = {}): PlaylistEntry => ({
  file: `seg_${seq}.ts`,
  encoderSequence: seq,
  durationSec: 2,
  discontinuity: false,
  ...extra,
});

describe('SegmentAssembler', () => {
  it('publishes a segment once both its bytes and its playlist entry arrived, in either order', () => {
    const a = new SegmentAssembler(4);
    assert.deepEqual(a.addSegment('seg_0.ts', bytes(0)), []);
    const first = a.addPlaylist([entry(0)]);
    assert.deepEqual(
      first.map((r) => [r.file, r.durationSec, r.data.byteLength]),
      [['seg_0.ts', 2, 10]],
    );
    assert.deepEqual(a.addPlaylist([entry(0), entry(1)]), [], 'listed before its bytes');
    assert.deepEqual(
      a.addSegment('seg_1.ts', bytes(1)).map((r) => r.encoderSequence),
      [1],
    );
    assert.equal(a.publishedCount, 2);
  });

  it('publishes in sequence order and never republishes a segment', () => {
    const a = new SegmentAssembler(4);
    a.addSegment('seg_2.ts', bytes(2));
    a.addSegment('seg_1.ts', bytes(1));
    assert.deepEqual(
      a.addPlaylist([entry(1), entry(2)]).map((r) => r.encoderSequence),
      [1, 2],
    );
    assert.deepEqual(a.addPlaylist([entry(1), entry(2)]), []);
  });

  it('marks the first segment after an encoder restart', () => {
    const a = new SegmentAssembler(4);
    for (const s of [0, 1, 2]) a.addSegment(`seg_${s}.ts`, bytes(s));
    a.addPlaylist([entry(0), entry(1), entry(2)]);
    a.addSegment('seg_0.ts', bytes(100));
    const restarted = a.addPlaylist([entry(0)]);
    assert.deepEqual(
      restarted.map((r) => [r.encoderSequence, r.restarted, r.data.byteLength]),
      [[0, true, 110]],
    );
    a.addSegment('seg_1.ts', bytes(101));
    assert.deepEqual(
      a.addPlaylist([entry(0), entry(1)]).map((r) => r.restarted),
      [false],
    );
  });

  it('holds fMP4 segments until their init section arrives', () => {
    const a = new SegmentAssembler(4);
    a.addSegment('seg_0.m4s', bytes(0));
    assert.deepEqual(a.addPlaylist([entry(0, { file: 'seg_0.m4s', mapFile: 'init.mp4' })]), []);
    assert.deepEqual(
      a.addInit('init.mp4', bytes(5)).map((r) => r.file),
      ['seg_0.m4s'],
    );
    assert.equal(a.init('init.mp4')?.byteLength, 15);
  });

  it('refuses a file beyond the bound of unlisted files, keeping every file it took', () => {
    const a = new SegmentAssembler(4);
    for (let i = 0; i < MAX_PENDING_FILES; i++) a.addSegment(`junk_${i}.ts`, bytes(i));
    assert.throws(
      () => a.addSegment(`junk_${MAX_PENDING_FILES}.ts`, bytes(1)),
      (error: unknown) =>
        error instanceof PendingFullError && error.code === 'SEGMENTS_WAITING_FULL',
    );
    // What was taken is still there to publish, the oldest first.
    assert.equal(a.addPlaylist([entry(0, { file: 'junk_0.ts' })]).length, 1);
    assert.equal(a.addPlaylist([entry(1, { file: 'junk_1.ts' })]).length, 1);
  });

  it('makes room by dropping files whose entry the stream has passed', () => {
    const a = new SegmentAssembler(4);
    a.addSegment('seg_5.ts', bytes(5));
    assert.equal(a.addPlaylist([entry(5, { file: 'seg_5.ts' })]).length, 1);
    // A late copy of an older, already passed segment waits for ever...
    a.addSegment('seg_4.ts', bytes(4));
    a.addPlaylist([entry(4, { file: 'seg_4.ts' }), entry(5, { file: 'seg_5.ts' })]);
    for (let i = 1; i < MAX_PENDING_FILES; i++) a.addSegment(`junk_${i}.ts`, bytes(i));
    // ...until room is needed: then it goes, and the new file is taken.
    assert.doesNotThrow(() => a.addSegment('seg_6.ts', bytes(6)));
    assert.equal(a.addPlaylist([entry(6, { file: 'seg_6.ts' })]).length, 1);
  });

  it('forgets a file the encoder deleted before it was listed', () => {
    const a = new SegmentAssembler(4);
    a.addSegment('seg_0.ts', bytes(0));
    a.remove('seg_0.ts');
    assert.deepEqual(a.addPlaylist([entry(0)]), []);
  });

  it('keeps at most its bound of init sections, evicting the oldest the playlist does not name', () => {
    const a = new SegmentAssembler(2);
    a.addInit('a.mp4', bytes(0));
    a.addInit('b.mp4', bytes(0));
    a.addPlaylist([entry(0, { file: 'seg_0.m4s', mapFile: 'a.mp4' })]);
    a.addInit('c.mp4', bytes(0));
    assert.deepEqual(
      ['a.mp4', 'b.mp4', 'c.mp4'].map((f) => a.init(f) !== undefined),
      [true, false, true],
      'b went: a is still named by the playlist',
    );
  });

  it('refuses a new init section when the playlist names every kept one', () => {
    const a = new SegmentAssembler(2);
    a.addInit('a.mp4', bytes(0));
    a.addInit('b.mp4', bytes(0));
    a.addPlaylist([
      entry(0, { file: 'seg_0.m4s', mapFile: 'a.mp4' }),
      entry(1, { file: 'seg_1.m4s', mapFile: 'b.mp4' }),
    ]);
    assert.throws(
      () => a.addInit('c.mp4', bytes(0)),
      (e: unknown) => e instanceof InitSectionsFullError && e.field === 'file',
    );
    assert.equal(a.init('c.mp4'), undefined);
    a.addInit('a.mp4', bytes(5)); // a new upload under a kept name always fits
    assert.equal(a.init('a.mp4')?.byteLength, 15);
  });

  it('counts the bytes it holds: waiting segment files and init sections, not published ones', () => {
    const a = new SegmentAssembler(4);
    a.addSegment('seg_0.ts', bytes(0)); // 10
    a.addSegment('seg_1.ts', bytes(5)); // 15
    a.addSegment('seg_1.ts', bytes(10)); // replaces: 20
    a.addInit('init.mp4', bytes(90)); // 100
    assert.equal(a.heldBytes, 130);
    a.addPlaylist([entry(0)]);
    assert.equal(a.heldBytes, 120, 'published: the window holds it now');
    a.remove('seg_1.ts');
    a.addInit('init.mp4', bytes(0));
    assert.equal(a.heldBytes, 10);
    for (let i = 0; i < MAX_PENDING_FILES + 5; i++) {
      try {
        a.addSegment(`junk_${i}.ts`, bytes(0));
      } catch (error) {
        assert.ok(error instanceof PendingFullError);
      }
    }
    assert.equal(a.heldBytes, 10 + MAX_PENDING_FILES * 10, 'refused files are not counted');
  });
});

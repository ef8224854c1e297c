import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import HLS from 'hls-parser';
import type { ProfileName } from '../../src/core/profiles.js';
import { type Cli, startCli, stopCli } from '../helpers/cli.js';
import { assertConformantMedia } from '../helpers/hls-conformance.js';
import { call } from '../helpers/http.js';
import { pushSegments } from '../helpers/push.js';
import { ALL_PROFILES } from '../helpers/segments.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

const ADMIN = { authorization: 'Bearer windows-admin-token' };
const KEY = 'windows-publish-key';
/** Longer than the recorder's interval (1 s) plus the store's write-behind (50 ms). */
const SETTLE_MS = 1500;
/** The rendition one of whose files is damaged while the server is down. */
const DAMAGED: ProfileName = 'High';
const DAMAGED_SEQUENCE = 2;
/** How far past the restored segments' end the clock is when the encoder pushes again. */
const REANCHOR_MS = 1000;

interface Entry {
  readonly sequence: number;
  /** The segment's path, without the session query. */
  readonly uri: string;
  readonly duration: string;
  readonly dateTime: string | undefined;
  readonly discontinuity: boolean;
  readonly gap: boolean;
}

interface Playlist {
  readonly text: string;
  readonly target: string | undefined;
  readonly entries: Entry[];
}

/** The media playlist's segments with their numbers, URIs, EXTINF, date-times and tags. */
function parse(text: string): Playlist {
  const lines = text.split('\n');
  let sequence = Number(
    lines.find((l) => l.startsWith('#EXT-X-MEDIA-SEQUENCE:'))?.split(':')[1] ?? 0,
  );
  const target = lines.find((l) => l.startsWith('#EXT-X-TARGETDURATION:'))?.split(':')[1];
  const entries: Entry[] = [];
  let pending = { duration: '', dateTime: undefined as string | undefined, dis: false, gap: false };
  for (const line of lines) {
    if (line.startsWith('#EXTINF:')) pending.duration = line.slice(8).split(',')[0] as string;
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pending.dateTime = line.slice(25);
    else if (line === '#EXT-X-DISCONTINUITY') pending.dis = true;
    else if (line === '#EXT-X-GAP') pending.gap = true;
    else if (line && !line.startsWith('#')) {
      entries.push({
        sequence: sequence++,
        uri: line.split('?')[0] as string,
        duration: pending.duration,
        dateTime: pending.dateTime,
        discontinuity: pending.dis,
        gap: pending.gap,
      });
      pending = { duration: '', dateTime: undefined, dis: false, gap: false };
    }
  }
  return { text, target, entries };
}

async function playlist(url: string, profile: ProfileName): Promise<Playlist> {
  const response = await fetch(`${url}/live/lecture/${profile}/index.m3u8`);
  assert.equal(response.status, 200);
  return parse(await response.text());
}

async function segment(
  url: string,
  profile: ProfileName,
  uri: string,
): Promise<{ bytes: Buffer; etag: string | null }> {
  const response = await fetch(new URL(uri, `${url}/live/lecture/${profile}/`));
  assert.equal(response.status, 200, uri);
  return { bytes: Buffer.from(await response.arrayBuffer()), etag: response.headers.get('etag') };
}

async function kill(cli: Cli): Promise<void> {
  const exited = once(cli.child, 'exit');
  cli.child.kill('SIGKILL');
  await exited;
}

/** Flips a byte of a stored segment (its size stays): only its hash can tell. */
async function damage(dir: string, profile: ProfileName, sequence: number): Promise<void> {
  const root = path.join(dir, 'segments', 'lecture');
  const [incarnation] = await readdir(root);
  const file = path.join(root, incarnation as string, profile, `${incarnation}-${sequence}.ts`);
  const bytes = await readFile(file);
  bytes[0] = (bytes[0] as number) ^ 0xff;
  await writeFile(file, bytes);
}

describe('live windows after a SIGKILL restart (same data directory)', { timeout: 90_000 }, () => {
  let dir: string;
  let first: Cli;
  let second: Cli;
  const beforeKill = new Map<ProfileName, Playlist>();
  const beforeBytes = new Map<string, { bytes: Buffer; etag: string | null }>();
  const afterRestart = new Map<ProfileName, Playlist>();
  const afterPush = new Map<ProfileName, Playlist>();
  let pushedAt = 0;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vtp-windows-'));
    const args = [
      '--data-dir',
      dir,
      '--admin-token',
      'windows-admin-token',
      '--retention',
      '600',
      '--encoder-timeout',
      '120',
    ];
    first = await startCli(args);
    const started = await call(
      `${first.url}/api/v1/streams/start`,
      'POST',
      { recording_id: 'lecture', publish_key: KEY },
      ADMIN,
    );
    assert.equal(started.status, 201);
    // The encoder declares a 5 s target: the stream's fixed target, which a restart must keep.
    for (const profile of ALL_PROFILES) {
      await pushSegments(first.url, 'lecture', profile, 0, 4, `?key=${KEY}`, {
        declaredTarget: 5,
      });
    }
    for (const profile of ALL_PROFILES) {
      const listed = await playlist(first.url, profile);
      beforeKill.set(profile, listed);
      for (const entry of listed.entries) {
        beforeBytes.set(`${profile}/${entry.uri}`, await segment(first.url, profile, entry.uri));
      }
    }
    await sleep(SETTLE_MS);
    await kill(first);
    await damage(dir, DAMAGED, DAMAGED_SEQUENCE);
    second = await startCli(args);
    for (const profile of ALL_PROFILES)
      afterRestart.set(profile, await playlist(second.url, profile));
    // The restored date-times run ahead of the clock (four segments pushed at once); wait
    // until the clock has passed their end, so a re-anchored date-time differs from a continued one.
    const last = (afterRestart.get('Low') as Playlist).entries.at(-1) as Entry;
    const lastEnd = Date.parse(last.dateTime as string) + Number(last.duration) * 1000;
    await sleep(Math.max(0, lastEnd + REANCHOR_MS + 2000 - Date.now()));
    pushedAt = Date.now();
    // A new encoder run: its numbers (and timestamps) start again from 0.
    for (const profile of ALL_PROFILES) {
      await pushSegments(second.url, 'lecture', profile, 0, 2, `?key=${KEY}`);
    }
    for (const profile of ALL_PROFILES) afterPush.set(profile, await playlist(second.url, profile));
  });

  after(async () => {
    if (second) await stopCli(second);
    if (first && first.child.exitCode === null && first.child.signalCode === null) {
      await stopCli(first);
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the pre-kill segments again with their URIs, numbers, durations and date-times', () => {
    for (const profile of ALL_PROFILES) {
      const was = beforeKill.get(profile) as Playlist;
      const now = afterRestart.get(profile) as Playlist;
      assert.equal(was.entries.length, 4, profile);
      assert.ok(was.entries.every((e) => e.dateTime !== undefined));
      if (profile === DAMAGED) continue;
      assert.deepEqual(now.entries, was.entries, profile);
      assert.equal(now.target, '5', profile);
    }
  });

  it('serves the restored segments with the same bytes and ETags', async () => {
    for (const profile of ALL_PROFILES) {
      for (const entry of (afterRestart.get(profile) as Playlist).entries) {
        if (entry.gap) continue;
        const was = beforeBytes.get(`${profile}/${entry.uri}`);
        assert.ok(was, entry.uri);
        const now = await segment(second.url, profile, entry.uri);
        assert.ok(now.bytes.equals(was.bytes), entry.uri);
        assert.equal(now.etag, was.etag, entry.uri);
      }
    }
  });

  it('leaves a segment whose bytes fail their hash out, as a gap, and logs it', () => {
    const was = beforeKill.get(DAMAGED) as Playlist;
    const now = afterRestart.get(DAMAGED) as Playlist;
    assert.deepEqual(
      now.entries.map((e) => e.sequence),
      was.entries.map((e) => e.sequence),
    );
    for (const [i, entry] of now.entries.entries()) {
      const damaged = entry.sequence === DAMAGED_SEQUENCE;
      assert.equal(entry.gap, damaged, `${entry.sequence}`);
      if (!damaged) assert.deepEqual(entry, was.entries[i]);
    }
    assert.ok(
      second.output.some((l) => l.includes('left out of the restored window')),
      second.output.join('\n'),
    );
    assertConformantMedia(now.text);
  });

  it('puts the next push after the restored segments, marked a discontinuity and dated anew', () => {
    for (const profile of ALL_PROFILES) {
      const restored = afterRestart.get(profile) as Playlist;
      const now = afterPush.get(profile) as Playlist;
      assert.deepEqual(now.entries.slice(0, restored.entries.length), restored.entries, profile);
      const added = now.entries.slice(restored.entries.length);
      assert.deepEqual(
        added.map((e) => [e.sequence, e.discontinuity]),
        [
          [4, true],
          [5, false],
        ],
        profile,
      );
      const last = restored.entries[restored.entries.length - 1] as Entry;
      const lastEnd = Date.parse(last.dateTime as string) + Number(last.duration) * 1000;
      // Re-anchored to the wall clock (its first frame one duration before it arrived), not
      // continued from the last restored segment's end.
      const firstNew = Date.parse((added[0] as Entry).dateTime as string);
      assert.ok(firstNew >= lastEnd + REANCHOR_MS, `${profile}: ${firstNew} vs ${lastEnd}`);
      assert.ok(firstNew <= Date.now(), `${profile}: ${firstNew} after ${pushedAt}`);
      assert.equal(now.target, '5', profile);
      assertConformantMedia(now.text);
    }
  });

  it('names the new segments with the same incarnation', () => {
    const incarnation = (uri: string) => (uri.split('/').pop() as string).split('-')[0];
    for (const profile of ALL_PROFILES) {
      const names = new Set(
        (afterPush.get(profile) as Playlist).entries.map((e) => incarnation(e.uri)),
      );
      assert.equal(names.size, 1, profile);
    }
  });
});

describe('fMP4 init sections after a SIGKILL restart', { timeout: 90_000 }, () => {
  let dir: string;
  let cli: Cli;
  const initA = new Uint8Array(600).fill(1);
  const initB = new Uint8Array(600).fill(2);
  const initC = new Uint8Array(600).fill(3);

  const put = async (file: string, body: string | Uint8Array<ArrayBuffer>) => {
    const res = await fetch(`${cli.url}/ingest/cmaf/Low/${file}?key=${KEY}`, {
      method: 'PUT',
      body,
    });
    assert.equal(res.status, 201, await res.text());
  };
  /** The encoder's playlist: segments [from, to) after the init section it names now. */
  const index = (from: number, to: number) => {
    let text = `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:${from}\n#EXT-X-MAP:URI="init.mp4"\n`;
    for (let s = from; s < to; s++) text += `#EXTINF:2.000,\nseg_${s}.m4s\n`;
    return text;
  };
  const maps = async () => {
    const text = await (await fetch(`${cli.url}/live/cmaf/Low/index.m3u8`)).text();
    assertConformantMedia(text);
    // Each segment's init section (a playlist names it only where it changes).
    return (HLS.parse(text) as MediaPlaylist).segments.map((s) => s.map?.uri as string);
  };
  const body = async (uri: string) => {
    const res = await fetch(`${cli.url}/live/cmaf/Low/${uri}`);
    assert.equal(res.status, 200, uri);
    return new Uint8Array(await res.arrayBuffer());
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vtp-windows-cmaf-'));
    cli = await startCli(['--data-dir', dir, '--admin-token', 'windows-admin-token']);
    const started = await call(
      `${cli.url}/api/v1/streams/start`,
      'POST',
      { recording_id: 'cmaf', publish_key: KEY },
      ADMIN,
    );
    assert.equal(started.status, 201);
  });

  after(async () => {
    if (cli) await stopCli(cli);
    await rm(dir, { recursive: true, force: true });
  });

  it('brings back the init sections the window names, and numbers new ones after them', async () => {
    await put('init.mp4', initA);
    await put('seg_0.m4s', new Uint8Array(900).fill(10));
    await put('index.m3u8', index(0, 1));
    await put('init.mp4', initB);
    await put('seg_1.m4s', new Uint8Array(900).fill(11));
    await put('index.m3u8', index(0, 2));
    const before = await maps();
    assert.equal(before.length, 2);
    assert.notEqual(before[0], before[1]);
    await sleep(SETTLE_MS);
    const exited = once(cli.child, 'exit');
    cli.child.kill('SIGKILL');
    await exited;
    cli = await startCli(['--data-dir', dir, '--admin-token', 'windows-admin-token']);
    assert.deepEqual(await maps(), before);
    assert.deepEqual(await body(before[0] as string), initA);
    assert.deepEqual(await body(before[1] as string), initB);
    // A new encoder run with the last init section's bytes keeps its URL...
    await put('init.mp4', initB);
    await put('seg_0.m4s', new Uint8Array(900).fill(20));
    await put('index.m3u8', index(0, 1));
    // ...and new bytes get a number no URL held before the restart.
    await put('init.mp4', initC);
    await put('seg_1.m4s', new Uint8Array(900).fill(21));
    await put('index.m3u8', index(0, 2));
    const after = await maps();
    assert.deepEqual(after.slice(0, 3), [...before, before[1]]);
    assert.equal(after.length, 4);
    assert.ok(!before.includes(after[3] as string), after[3]);
    assert.deepEqual(await body(after[3] as string), initC);
    assert.deepEqual(await body(before[0] as string), initA);
  });
});

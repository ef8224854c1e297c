import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ProfileName } from '../../src/core/profiles.js';
import {
  type SegmentFileMeta,
  SegmentFiles,
  UnsafeStorageNameError,
} from '../../src/storage/segment-files.js';

const INC = '3f9a0c2d1e4b';
const META: SegmentFileMeta = {
  kind: 'segment',
  sequence: 0,
  durationSec: 2,
  discontinuity: false,
  discontinuitySequence: 0,
  programDateTime: 0,
  contentType: 'video/mp2t',
  createdAt: 0,
};

const BAD_IDS = [
  '',
  '.',
  '..',
  '../x',
  'a/b',
  '/etc',
  'a\\b',
  'a\0b',
  'x'.repeat(129),
  'é',
  'a b',
  'a\nb',
];
const BAD_PROFILES = ['Ultra', 'low', '../Low', 'Low/..', ''];
const BAD_FILES = [
  '../x.ts',
  'a/b.ts',
  '/x.ts',
  '.hidden.ts',
  '..ts',
  'x.json',
  'x.ts.json',
  'x',
  '..',
  '.',
  'x.ts/',
  `${'x'.repeat(200)}.ts`,
];

describe('SegmentFiles path safety', () => {
  let parent: string;
  let dataDir: string;
  let files: SegmentFiles;
  before(async () => {
    parent = await mkdtemp(path.join(tmpdir(), 'vtp-segment-paths-'));
    dataDir = path.join(parent, 'data');
    await mkdir(dataDir);
    files = new SegmentFiles(dataDir);
  });
  after(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  /** Every call that takes a name, with `bad` in the place `where` says. */
  function calls(where: 'recording' | 'incarnation' | 'profile' | 'file', bad: string) {
    const rec = where === 'recording' ? bad : 'lec';
    const inc = where === 'incarnation' ? bad : INC;
    const prof = (where === 'profile' ? bad : 'Low') as ProfileName;
    const file = where === 'file' ? bad : `${INC}-0.ts`;
    const all: [string, () => unknown][] = [
      ['write', () => files.write(rec, inc, prof, file, new Uint8Array(4), META)],
      ['read', () => files.read(rec, inc, prof, file)],
      ['get', () => files.get(rec, inc, prof, file)],
      ['createReadStream', () => files.createReadStream(rec, inc, prof, file)],
    ];
    if (where === 'recording') {
      all.push(['list', () => files.list(rec)]);
      all.push(['scan', () => files.scan(rec)]);
      all.push(['removeStream', () => files.removeStream(rec)]);
    }
    if (where === 'recording' || where === 'incarnation') {
      all.push(['removeIncarnation', () => files.removeIncarnation(rec, inc)]);
    }
    return all;
  }

  async function assertRefused(call: () => unknown, label: string): Promise<void> {
    await assert.rejects(
      (async () => call())(),
      (error: unknown) => error instanceof UnsafeStorageNameError,
      label,
    );
  }

  it('refuses recording ids and incarnations outside [A-Za-z0-9._-]{1,128}, and . and ..', async () => {
    for (const bad of BAD_IDS) {
      for (const where of ['recording', 'incarnation'] as const) {
        for (const [name, call] of calls(where, bad)) {
          await assertRefused(call, `${name} with ${where} ${JSON.stringify(bad)}`);
        }
      }
    }
  });

  it('refuses a profile that is not one of the four', async () => {
    for (const bad of BAD_PROFILES) {
      for (const [name, call] of calls('profile', bad)) {
        await assertRefused(call, `${name} with profile ${JSON.stringify(bad)}`);
      }
    }
  });

  it('refuses file names with separators, a leading dot, or no media extension', async () => {
    for (const bad of BAD_FILES) {
      for (const [name, call] of calls('file', bad)) {
        await assertRefused(call, `${name} with file ${JSON.stringify(bad)}`);
      }
    }
  });

  it('touched nothing for any refused name, inside the data directory or beside it', async () => {
    assert.deepEqual(await readdir(parent), ['data']);
    assert.deepEqual(await readdir(dataDir), []);
  });

  it('accepts ids at the edge of the pattern, such as 128 characters and a leading dot', async () => {
    const long = 'A'.repeat(128);
    await files.write(long, '.x', 'High', 'a.b-1.m4s', new Uint8Array(1), META);
    await files.write('...', INC, 'Low', `init-${INC}-0.mp4`, new Uint8Array(1), {
      kind: 'init',
      contentType: 'video/mp4',
      createdAt: 0,
    });
    assert.equal(files.totalBytes(), 2);
    assert.deepEqual((await readdir(path.join(dataDir, 'segments'))).sort(), ['...', long].sort());
    assert.equal(await files.removeStream('...'), 1);
    assert.equal(await files.removeStream(long), 1);
  });

  it('never follows a symbolic link planted in the store out of the data directory', async () => {
    const outside = path.join(parent, 'outside');
    await mkdir(path.join(outside, INC, 'Low'), { recursive: true });
    await writeFile(path.join(outside, 'precious'), 'keep me');
    // Looks like an unfinished write, which a scan deletes inside the store.
    await writeFile(path.join(outside, INC, 'Low', `.${INC}-0.ts.abc.tmp`), 'keep me too');
    await mkdir(path.join(dataDir, 'segments'), { recursive: true });
    await symlink(outside, path.join(dataDir, 'segments', 'linked'));

    const { files: found, problems } = await new SegmentFiles(dataDir).scan();
    assert.deepEqual(found, []);
    assert.deepEqual(
      problems.map((p) => [p.path, p.action]),
      [['segments/linked', 'left']],
    );
    const one = await new SegmentFiles(dataDir).scan('linked');
    assert.deepEqual(
      one.problems.map((p) => [p.path, p.action]),
      [['segments/linked', 'left']],
    );
    await assert.rejects(
      files.write('linked', INC, 'Low', `${INC}-0.ts`, new Uint8Array(4), META),
      /not a directory; refusing/,
    );
    assert.deepEqual(await readdir(path.join(outside, INC, 'Low')), [`.${INC}-0.ts.abc.tmp`]);
    await files.removeStream('linked');
    assert.equal(await readFile(path.join(outside, 'precious'), 'utf8'), 'keep me');
    assert.deepEqual((await readdir(outside)).sort(), [INC, 'precious']);
  });
});

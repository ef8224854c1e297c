import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { SegmentFiles } from '../../src/storage/segment-files.js';
import { startTestServer, type TestServer } from '../helpers/http.js';
import { fakeSegment, pushSegments } from '../helpers/push.js';
import { waitFor } from '../helpers/wait.js';

const dirs: string[] = [];
async function dataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vtp-ingest-storage-'));
  dirs.push(dir);
  return dir;
}
after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function put(
  base: string,
  file: string,
  body: Uint8Array<ArrayBuffer> | string,
): Promise<Response> {
  return fetch(`${base}/ingest/${file}`, { method: 'PUT', body });
}

const playlist = (last: number, map?: string, ext = 'ts') =>
  `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n${
    map ? `#EXT-X-MAP:URI="${map}"\n` : ''
  }${Array.from({ length: last + 1 }, (_, s) => `#EXTINF:2.000,\nseg_${s}.${ext}\n`).join('')}`;

/** A SegmentFiles whose writes wait for `release()`, recording when each starts and ends. */
class HeldFiles extends SegmentFiles {
  readonly events: string[] = [];
  private opened!: () => void;
  private readonly gate = new Promise<void>((resolve) => {
    this.opened = resolve;
  });
  release(): void {
    this.opened();
  }
  override async write(...args: Parameters<SegmentFiles['write']>) {
    this.events.push(`start ${args[3]}`);
    await this.gate;
    const stored = await super.write(...args);
    this.events.push(`end ${args[3]}`);
    return stored;
  }
}

/** A SegmentFiles on a full disk. */
class FullDisk extends SegmentFiles {
  override async write(): ReturnType<SegmentFiles['write']> {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  }
}

describe('segments on disk', () => {
  let server: TestServer | undefined;
  after(() => server?.close());

  it('has every pushed segment on disk, with its record, under its incarnation by the time the push is answered', async () => {
    const dir = await dataDir();
    server = await startTestServer({}, 200, { dataDir: dir });
    await pushSegments(server.url, 'kept', 'Low', 0, 3);
    const incarnation = server.service.getDistributor('kept').incarnation;
    for (let seq = 0; seq < 3; seq++) {
      const file = path.join(
        dir,
        'segments',
        'kept',
        incarnation,
        'Low',
        `${incarnation}-${seq}.ts`,
      );
      assert.deepEqual(new Uint8Array(await readFile(file)), fakeSegment('Low', seq));
    }
    // Another reader of the directory finds the same three, intact, with what playlists need.
    const { files, problems } = await new SegmentFiles(dir).scan('kept');
    assert.deepEqual(problems, []);
    assert.deepEqual(
      files.map((f) => [f.fileName, f.meta.kind === 'segment' && f.meta.sequence]),
      [0, 1, 2].map((seq) => [`${incarnation}-${seq}.ts`, seq]),
    );
    await server.close();
    server = undefined;
  });

  it('stores an init section before the first segment naming it, and the record names it', async () => {
    const dir = await dataDir();
    const files = new HeldFiles(dir);
    server = await startTestServer({}, 200, { ingest: { files } });
    assert.equal(
      (await put(server.url, 'fm/High/init.mp4', new Uint8Array(300).fill(1))).status,
      201,
    );
    assert.equal(
      (await put(server.url, 'fm/High/seg_0.m4s', new Uint8Array(900).fill(2))).status,
      201,
    );
    const answered = put(server.url, 'fm/High/index.m3u8', playlist(0, 'init.mp4', 'm4s'));
    // The segment is live (served from memory) while its write still waits for the disk.
    const distributor = await waitFor(
      async () => server?.service.getDistributor('fm'),
      2000,
      'the stream',
      10,
    );
    const segment = await waitFor(
      async () => distributor.window('High').newest,
      2000,
      'the segment',
      10,
    );
    const live = await fetch(`${server.url}/live/fm/High/${segment.id}`);
    assert.equal(live.status, 200);
    assert.equal((await live.arrayBuffer()).byteLength, 900);
    const pending = await Promise.race([answered.then(() => 'answered'), sleep(100)]);
    assert.equal(pending, undefined, 'the push is not answered before its segment is stored');
    files.release();
    assert.equal((await answered).status, 201);
    const initId = segment.initId as string;
    assert.match(initId, /^init-/);
    assert.ok(
      files.events.indexOf(`end ${initId}`) < files.events.indexOf(`start ${segment.id}`),
      `init stored before its segment: ${files.events.join(', ')}`,
    );
    const stored = files.get('fm', distributor.incarnation, 'High', segment.id);
    assert.equal(stored?.meta.kind === 'segment' && stored.meta.initId, initId);
    await server.close();
    server = undefined;
  });

  it('answers 507 STORAGE_FAILED when the disk refuses a segment, and keeps serving it live', async () => {
    const dir = await dataDir();
    server = await startTestServer({}, 200, { ingest: { files: new FullDisk(dir) } });
    assert.equal((await put(server.url, 'full/Low/seg_0.ts', fakeSegment('Low', 0))).status, 201);
    const res = await put(server.url, 'full/Low/index.m3u8', playlist(0));
    assert.equal(res.status, 507);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'STORAGE_FAILED');
    assert.match(body.error.message, /ENOSPC/);
    assert.ok(!body.error.message.includes(dir), 'the message names no server path');
    const segment = server.service.getDistributor('full').window('Low').newest;
    assert.ok(segment);
    assert.equal((await fetch(`${server.url}/live/full/Low/${segment.id}`)).status, 200);
    await server.close();
    server = undefined;
  });

  it('scans the data directory before listening: an unfinished write is deleted and logged', async () => {
    const dir = await dataDir();
    const rendition = path.join(dir, 'segments', 'old', 'abc123', 'Low');
    await mkdir(rendition, { recursive: true });
    const temp = path.join(rendition, '.abc123-4.ts.0a0b0c0d0e0f.tmp');
    await writeFile(temp, 'half a segment');
    const lines: { level: number; msg: string; path?: string }[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    );
    server = await startTestServer({}, 200, { dataDir: dir, logger });
    await assert.rejects(readFile(temp), { code: 'ENOENT' });
    const warned = lines.find((l) => l.level === 40 && l.path?.includes('.abc123-4.ts.'));
    assert.ok(warned, `a warning names the file: ${JSON.stringify(lines)}`);
    assert.ok(lines.some((l) => l.msg === 'segment files scanned'));
    await server.close();
    server = undefined;
  });
});

function sleep(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms));
}

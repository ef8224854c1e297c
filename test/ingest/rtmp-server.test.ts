import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setImmediate as setImmediatePromise } from 'node:timers/promises';
import { freePort } from '../../bench/viewers/free-port.js';
import { MAX_RTMP_CONNECTIONS } from '../../src/ingest/rtmp/protocol.js';
import { RtmpServer } from '../../src/ingest/rtmp/rtmp-server.js';
import { run } from '../helpers/exec.js';
import { waitFor } from '../helpers/wait.js';

const newKey = () => randomBytes(18).toString('base64url'); // 24 characters, key format
const known = new Map<string, string>(); // key -> alias prefix

interface Publisher {
  child: ChildProcess;
  exited: Promise<number | null>;
  code: number | null | undefined;
}
const publishers = new Set<Publisher>();

/** How a test publisher encodes: the picture, how long, and extra video options. */
interface Encoding {
  size: string;
  fps: number;
  seconds: number;
  video: string[];
}
const PATTERN: Encoding = { size: '320x180', fps: 25, seconds: 60, video: [] };

/** Real ffmpeg publishing a test pattern like OBS would (bounded at 60 s). */
function publish(url: string, { size, fps, seconds, video } = PATTERN): Publisher {
  // biome-ignore format: ffmpeg arguments read best as pairs
  const args = ['-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${fps}`, '-f', 'lavfi', '-i', 'sine',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(2 * fps),
    ...video, '-c:a', 'aac', '-f', 'flv', url];
  const child = spawn('ffmpeg', args, { stdio: 'ignore' });
  const publisher: Publisher = {
    child,
    code: undefined,
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  void publisher.exited.then((code) => {
    publisher.code = code;
  });
  publishers.add(publisher);
  return publisher;
}

/** Pulls 25 decoded frames from `url`; resolves with ffmpeg's exit code. */
async function pull(url: string): Promise<number | null> {
  // biome-ignore format: ffmpeg arguments read best as pairs
  const args = ['-hide_banner', '-loglevel', 'error', '-rw_timeout', '5000000', '-i', url,
    '-frames:v', '25', '-f', 'null', '-'];
  return (await run('ffmpeg', args, 20_000)).code;
}

describe('RTMP listener (node-media-server child)', () => {
  let port: number;
  let server: RtmpServer;
  const approvals: { key: string; alias: string | undefined; at: number }[] = [];
  const ended: string[] = [];
  const childOutput: string[] = [];

  before(async () => {
    port = await freePort();
    server = new RtmpServer({
      host: '127.0.0.1',
      port,
      approve: async (key) => {
        const prefix = known.get(key);
        // a slow approval, later than the child waits (800 ms)
        if (prefix === 'slow') await new Promise((resolve) => setTimeout(resolve, 1_200));
        const alias = prefix && `${prefix}-${randomBytes(6).toString('hex')}`;
        approvals.push({ key, alias, at: Date.now() });
        return alias;
      },
      onEnded: (alias) => ended.push(alias),
      log: {
        info: () => {},
        warn: (detail, message) => childOutput.push(`${message} ${JSON.stringify(detail)}`),
      },
    });
    await server.start();
  });

  after(async () => {
    for (const p of publishers) p.child.kill('SIGKILL');
    await Promise.all([...publishers].map((p) => p.exited));
    await server?.stop();
  });

  /** Publishes with a fresh known key; resolves once approved, with its alias. */
  async function approvedPublish(prefix: string, encoding = PATTERN) {
    const key = newKey();
    known.set(key, prefix);
    const started = Date.now();
    const publisher = publish(`rtmp://127.0.0.1:${port}/live/${key}`, encoding);
    const approval = await waitFor(
      async () => approvals.find((a) => a.key === key && a.alias),
      10_000,
      `approval of ${prefix}`,
      50,
    );
    return { key, publisher, alias: approval.alias as string, approvalMs: approval.at - started };
  }

  let first: Awaited<ReturnType<typeof approvedPublish>>;
  let again: Awaited<ReturnType<typeof approvedPublish>> | undefined;

  test('(a) an approved key publishes; the alias is pullable, the key path is not', async () => {
    first = await approvedPublish('lecture-a');
    assert.equal(approvals.filter((a) => a.key === first.key).length, 1);
    assert.equal(await pull(server.pullUrl(first.alias)), 0);
    assert.notEqual(await pull(`rtmp://127.0.0.1:${port}/live/${first.key}`), 0);
    assert.equal(first.publisher.code, undefined, 'the publisher keeps going');
    assert.deepEqual(server.status(), { up: true, restarts: 0, publishing: 1 });
    assert.equal(server.stats(`${first.alias}-x`), undefined, 'only approved aliases have stats');
    console.log(`# spawn-to-approval ${first.approvalMs} ms`);
  });

  test('(b) an unknown key is refused and nothing is pullable', async () => {
    const key = newKey();
    const publisher = publish(`rtmp://127.0.0.1:${port}/live/${key}`);
    const asked = await waitFor(
      async () => approvals.find((a) => a.key === key),
      10_000,
      'the approval request',
      50,
    );
    assert.equal(asked.alias, undefined);
    const code = await waitFor(
      async () => publisher.code,
      5_000,
      'the refused publisher to exit',
      50,
    );
    console.log(`# refusal-to-publisher-exit ${Date.now() - asked.at} ms`);
    assert.notEqual(code, 0);
    assert.notEqual(await pull(`rtmp://127.0.0.1:${port}/live/${key}`), 0);
  });

  test('(c) a second publisher on a live key is refused; the first keeps going', async () => {
    const second = publish(`rtmp://127.0.0.1:${port}/live/${first.key}`);
    const code = await waitFor(async () => second.code, 10_000, 'the second publisher to exit', 50);
    assert.notEqual(code, 0);
    assert.equal(
      approvals.filter((a) => a.key === first.key).length,
      1,
      'the duplicate is never approved',
    );
    assert.equal(first.publisher.code, undefined);
    assert.equal(await pull(server.pullUrl(first.alias)), 0);
  });

  test('(b2) an approval later than the child waits is refused, and its alias ended', async () => {
    const key = newKey();
    known.set(key, 'slow');
    const publisher = publish(`rtmp://127.0.0.1:${port}/live/${key}`);
    const code = await waitFor(
      async () => publisher.code,
      10_000,
      'the timed-out publisher to exit',
      50,
    );
    assert.notEqual(code, 0);
    const late = await waitFor(
      async () => approvals.find((a) => a.key === key),
      5_000,
      'the late approval',
      50,
    );
    await waitFor(
      async () => ended.includes(late.alias as string) || undefined,
      5_000,
      'onEnded of the late alias',
      50,
    );
    assert.equal(server.status().publishing, 1, 'only the first publish is live');
  });

  test('(d) when the publisher stops, onEnded(alias) is called', async () => {
    first.publisher.child.kill('SIGKILL');
    await waitFor(async () => ended.includes(first.alias) || undefined, 2_000, 'onEnded', 50);
    assert.equal(server.status().publishing, 0);
    assert.notEqual(await pull(server.pullUrl(first.alias)), 0, 'the alias is gone');
  });

  test('(e) a killed child is restarted and takes publishes again', async () => {
    const pid = server.pid as number;
    process.kill(pid, 'SIGKILL');
    await waitFor(
      async () => (server.status().up && server.pid !== pid ? true : undefined),
      10_000,
      'the restarted child',
      50,
    );
    assert.equal(server.status().restarts, 1);
    again = await approvedPublish('lecture-e');
    assert.equal(await pull(server.pullUrl(again.alias)), 0);
  });

  test('(h) connections beyond the bound are closed as they arrive; the ones held stay', async () => {
    const open = async () => {
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      const closed = once(socket, 'close').then(() => true);
      return { socket, closed: () => Promise.race([closed, setImmediatePromise(false)]) };
    };
    const held = [];
    try {
      for (let i = 0; i < MAX_RTMP_CONNECTIONS; i++) held.push(await open());
      const extra = await open();
      held.push(extra);
      await waitFor(
        async () => ((await extra.closed()) ? true : undefined),
        5000,
        'the extra closed',
      );
      const first = held[0];
      assert.ok(first && !(await first.closed()), 'a held connection stays open');
    } finally {
      for (const { socket } of held) socket.destroy();
    }
  });

  test("(f) no key in the child's argv, env or output", async () => {
    assert.ok(again, 'a publish is live');
    // NMS logs a rejected name at error level: the child's redaction must hide it.
    const badName = `${newKey()}.x`;
    known.set(badName, 'never');
    const bad = publish(`rtmp://127.0.0.1:${port}/live/${badName}`);
    await waitFor(async () => bad.code, 10_000, 'the bad-name publisher to exit', 50);
    await waitFor(
      async () => (childOutput.some((l) => l.includes('redacted')) ? true : undefined),
      5_000,
      'NMS log line',
      50,
    );
    const childPid = server.pid as number;
    const cmdline = readFileSync(`/proc/${childPid}/cmdline`, 'utf8');
    const environ = readFileSync(`/proc/${childPid}/environ`, 'utf8');
    const output = childOutput.join('\n');
    for (const key of [...known.keys(), ...approvals.map((a) => a.key)]) {
      assert.ok(!cmdline.includes(key), 'key in argv');
      assert.ok(!environ.includes(key), 'key in env');
      assert.ok(!output.includes(key), 'key in child output');
    }
    console.log(`# child output lines ${childOutput.length}`);
    console.log(
      `# child rss ${readFileSync(`/proc/${childPid}/status`, 'utf8').match(/VmRSS:\s+(\d+ kB)/)?.[1]}`,
    );
  });

  test('(g) an approved publish reports its size, frame rate, codecs and bitrate, until it ends', async () => {
    const before = Date.now();
    // biome-ignore format: ffmpeg arguments read best as pairs
    const video = ['-b:v', '800k', '-maxrate', '800k', '-bufsize', '1600k', '-pix_fmt', 'yuv420p'];
    const live = await approvedPublish('lecture-g', {
      size: '640x360',
      fps: 25,
      seconds: 8,
      video,
    });
    const atApproval = server.stats(live.alias);
    assert.ok(atApproval, 'stats from the approval on');
    assert.ok(atApproval.connectedAt >= before && atApproval.connectedAt <= Date.now());
    // The bitrate needs two reports (2 s apart) after the approval.
    const stats = await waitFor(
      async () => {
        const now = server.stats(live.alias);
        return now?.kbps !== undefined && now.fps !== undefined ? now : undefined;
      },
      7_000,
      'a measured bitrate',
      50,
    );
    console.log(`# publish stats ${JSON.stringify(stats)}`);
    assert.equal(stats.width, 640);
    assert.equal(stats.height, 360);
    assert.equal(stats.fps, 25);
    assert.equal(stats.videoCodec, 'h264');
    assert.equal(stats.audioCodec, 'aac');
    assert.equal(stats.connectedAt, atApproval.connectedAt);
    assert.ok(stats.bytesIn > 100_000, `bytes in ${stats.bytesIn}`);
    // 800 kbps of video, AAC's default 128 kbps of audio, and FLV/RTMP framing
    assert.ok(
      (stats.kbps as number) >= 300 && (stats.kbps as number) <= 2_500,
      `${stats.kbps} kbps`,
    );
    assert.equal(await live.publisher.exited, 0, 'the publisher finishes its 8 s');
    await waitFor(
      async () => (ended.includes(live.alias) ? true : undefined),
      5_000,
      'onEnded',
      50,
    );
    assert.equal(server.stats(live.alias), undefined, 'stats are forgotten with the publish');
  });
});

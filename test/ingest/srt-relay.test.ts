import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { freePort, freeUdpPort, udpPortBound } from '../../bench/viewers/free-port.js';
import { RtmpServer } from '../../src/ingest/rtmp/rtmp-server.js';
import { SrtRelay } from '../../src/ingest/srt/srt-relay.js';
import { waitFor } from '../helpers/wait.js';

/** A UDP socket bound to a free port on loopback (close it to free the port). */
async function boundUdp(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

const WIDTH = 320;
const HEIGHT = 180;

interface Proc {
  child: ChildProcess;
  startedAt: number;
  code: number | null | undefined;
  exited: Promise<number | null>;
}
const procs = new Set<Proc>();

function track(child: ChildProcess): Proc {
  const proc: Proc = {
    child,
    startedAt: Date.now(),
    code: undefined,
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  void proc.exited.then((code) => {
    proc.code = code;
  });
  procs.add(proc);
  return proc;
}

/** A lecturer's encoder calling the SRT listener (like OBS), bounded at `seconds`. */
function callSrt(port: number, passphrase: string, seconds: number): Proc {
  const url = `srt://127.0.0.1:${port}?mode=caller&passphrase=${passphrase}`;
  // biome-ignore format: ffmpeg arguments read best as pairs
  const args = ['-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc=size=${WIDTH}x${HEIGHT}:rate=25`, '-f', 'lavfi', '-i', 'sine',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency',
    '-g', '25', '-c:a', 'aac', '-f', 'mpegts', url];
  // stderr says why a caller failed (libsrt: "Incorrect passphrase"); little else at -loglevel error.
  return track(spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] }));
}

/** Decodes `frames` video frames from `url` as raw gray pictures; bounded at 20 s. */
async function pullFrames(url: string, frames: number) {
  // biome-ignore format: ffmpeg arguments read best as pairs
  const args = ['-hide_banner', '-loglevel', 'error', '-rw_timeout', '5000000', '-i', url,
    '-frames:v', String(frames), '-pix_fmt', 'gray', '-f', 'rawvideo', '-'];
  const proc = track(spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const killer = setTimeout(() => proc.child.kill('SIGKILL'), 20_000);
  let bytes = 0;
  let firstFrameAt: number | undefined;
  let stderr = '';
  proc.child.stdout?.on('data', (chunk: Buffer) => {
    firstFrameAt ??= Date.now();
    bytes += chunk.length;
  });
  proc.child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await proc.exited;
  clearTimeout(killer);
  return { code, bytes, stderr, firstFrameAt };
}

describe('SRT publish relay (ffmpeg listener into the RTMP server)', () => {
  const passphrase = randomBytes(24).toString('base64url'); // a stream key
  const relayKey = randomBytes(18).toString('base64url');
  const approvals: { key: string; alias: string | undefined; at: number }[] = [];
  const ended: string[] = [];
  const logs: string[] = [];
  const log = {
    info: (detail: Record<string, unknown>, message: string) =>
      logs.push(`info ${message} ${JSON.stringify(detail)}`),
    warn: (detail: Record<string, unknown>, message: string) =>
      logs.push(`warn ${message} ${JSON.stringify(detail)}`),
  };
  let rtmp: RtmpServer;
  let relay: SrtRelay;
  let srtPort: number;
  const relays: SrtRelay[] = [];

  before(async () => {
    const rtmpPort = await freePort();
    rtmp = new RtmpServer({
      host: '127.0.0.1',
      port: rtmpPort,
      approve: async (key) => {
        const alias = key === relayKey ? `srt-${randomBytes(6).toString('hex')}` : undefined;
        approvals.push({ key, alias, at: Date.now() });
        return alias;
      },
      onEnded: (alias) => ended.push(alias),
      log,
    });
    await rtmp.start();
    srtPort = await freeUdpPort();
    relay = new SrtRelay({
      host: '127.0.0.1',
      port: srtPort,
      passphrase,
      target: `rtmp://127.0.0.1:${rtmpPort}/live/${relayKey}`,
      log,
    });
    relays.push(relay);
    relay.start();
  });

  after(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all([...procs].map((p) => p.exited));
    await Promise.all(relays.map((r) => r.stop()));
    await rtmp?.stop();
  });

  /** Waits for the next approved publish (beyond `before` approvals); returns its alias. */
  const approvedAfter = (before: number) =>
    waitFor(
      async () => approvals.slice(before).find((a) => a.alias)?.alias,
      15_000,
      'the relayed publish to be approved',
      50,
    );

  /** Pulls the approved alias and checks whole frames of the caller's size decode cleanly. */
  async function assertDecodes(alias: string, caller: Proc) {
    const frames = 10;
    const pulled = await pullFrames(rtmp.pullUrl(alias), frames);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(pulled.stderr, '', 'no decode errors');
    assert.equal(pulled.bytes, frames * WIDTH * HEIGHT, `${frames} frames of ${WIDTH}x${HEIGHT}`);
    return (pulled.firstFrameAt as number) - caller.startedAt;
  }

  test('(b) a caller with a wrong passphrase is refused at once and nothing is published', async () => {
    const pid = relay.pid;
    const approvalsBefore = approvals.length;
    const restartsBefore = relay.status().restarts;
    await waitFor(async () => (udpPortBound(srtPort) ? true : undefined), 10_000, 'the listener');
    const wrong = callSrt(srtPort, randomBytes(24).toString('base64url'), 6);
    let said = '';
    wrong.child.stderr?.on('data', (chunk: Buffer) => {
      said += chunk.toString();
    });
    const code = await waitFor(async () => wrong.code, 10_000, 'the refused caller to exit', 50);
    assert.notEqual(code, 0);
    // Refused by the listener, not failed for want of one.
    assert.match(said, /Incorrect passphrase/);
    console.log(`# wrong passphrase refused after ${Date.now() - wrong.startedAt} ms`);
    assert.equal(approvals.length, approvalsBefore, 'approve is never asked');
    // libsrt refuses the handshake itself: the waiting listener is untouched.
    assert.equal(relay.pid, pid);
    assert.equal(relay.status().restarts, restartsBefore);
  });

  test('(a) a caller with the stream key is relayed to the RTMP server under the relay key', async () => {
    const caller = callSrt(srtPort, passphrase, 6);
    const alias = await approvedAfter(0);
    assert.deepEqual(
      approvals.map((a) => a.key),
      [relayKey],
      'approve is asked for the relay key only',
    );
    const ms = await assertDecodes(alias, caller);
    const status = relay.status();
    const approvedAt = (approvals[0]?.at as number) - caller.startedAt;
    const relayingAt = (status.connectedSince as number) - caller.startedAt;
    console.log(
      `# caller start to: approval ${approvedAt} ms, relaying ${relayingAt} ms, first decoded frame ${ms} ms`,
    );
    assert.equal(status.listening, true);
    assert.equal(status.port, srtPort);
    assert.ok(status.connectedSince !== undefined && status.connectedSince >= caller.startedAt);
    assert.ok(logs.some((l) => l.startsWith('info srt caller connected')));
    // The listener took its one caller: a second one (even with the key) gets no answer.
    const second = callSrt(srtPort, passphrase, 6);
    assert.notEqual(await second.exited, 0, 'a second caller is not accepted');
    assert.equal(approvals.length, 1);
    assert.equal(await caller.exited, 0, 'the first caller published to its end, undisturbed');
  });

  test('(c) once a caller leaves the relay listens again and takes the next caller', async () => {
    const first = approvals.find((a) => a.alias)?.alias as string;
    // The first caller has ended: its publish ends and ffmpeg listens again.
    await waitFor(async () => (ended.includes(first) ? true : undefined), 20_000, 'end', 50);
    await waitFor(
      async () => (relay.status().restarts >= 1 && relay.status().listening ? true : undefined),
      10_000,
      'the relay to listen again',
      50,
    );
    assert.equal(relay.status().connectedSince, undefined, 'no caller yet');
    assert.ok(logs.some((l) => l.startsWith('warn srt relay ffmpeg exited')));
    const approvalsBefore = approvals.length;
    const caller = callSrt(srtPort, passphrase, 4);
    const alias = await approvedAfter(approvalsBefore);
    assert.notEqual(alias, first);
    const ms = await assertDecodes(alias, caller);
    console.log(`# second caller start to first decoded frame ${ms} ms`);
    assert.equal(await caller.exited, 0);
  });

  test("(d) the passphrase is in neither the relay ffmpeg's argv, env nor the logs", async () => {
    // The ffmpeg that served (c) may be between exit and restart: read whichever one runs.
    const { cmdline, environ } = await waitFor(
      async () => ({
        cmdline: readFileSync(`/proc/${relay.pid}/cmdline`, 'utf8'),
        environ: readFileSync(`/proc/${relay.pid}/environ`, 'utf8'),
      }),
      10_000,
      'a relay ffmpeg',
      50,
    );
    assert.ok(cmdline.includes('concat'), 'read the right process');
    assert.ok(!cmdline.includes(passphrase), 'passphrase in argv');
    assert.ok(!environ.includes(passphrase), 'passphrase in env');
    const output = logs.join('\n');
    assert.ok(!output.includes(passphrase), 'passphrase in logs');
    assert.ok(!output.includes(relayKey), 'relay key in logs');
  });

  test('(e) a listener whose port is taken backs off instead of spinning', async () => {
    const squatter = await boundUdp();
    const busy: string[] = [];
    const blocked = new SrtRelay({
      host: '127.0.0.1',
      port: squatter.address().port,
      passphrase,
      target: 'rtmp://127.0.0.1:1/live/unused',
      log: { info: () => {}, warn: (detail) => busy.push(JSON.stringify(detail)) },
    });
    relays.push(blocked);
    try {
      blocked.start();
      const backoff = await waitFor(
        async () => busy.find((line) => JSON.parse(line).restartInMs > 0),
        10_000,
        'a delayed restart',
        50,
      );
      const entry = JSON.parse(backoff);
      assert.equal(entry.restartInMs, 1_000, 'the first back-off');
      // Fast exits restart at once until the third in a row; a run slowed past fastExitMs on a
      // busy machine starts the count again, so only the three before the back-off are fixed.
      const before = busy.slice(0, busy.indexOf(backoff)).map((line) => JSON.parse(line));
      assert.ok(before.length >= 2, `${before.length} immediate restarts first`);
      assert.deepEqual(
        before.slice(-2).map((e) => e.restartInMs),
        [0, 0],
        'the two fast exits before it restarted at once',
      );
      assert.match(entry.lastLine, /Address already in use/);
      assert.notEqual(entry.code, 0);
      assert.equal(blocked.status().listening, false, 'waiting out the back-off');
    } finally {
      await blocked.stop();
      squatter.close();
    }
  });
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { watchHls } from '../../src/demo/hls-viewer.js';
import { type Cli, startCli, stopCli } from '../helpers/cli.js';
import { call } from '../helpers/http.js';
import { pushSegments } from '../helpers/push.js';
import { waitFor } from '../helpers/wait.js';

interface LogLine {
  level: number;
  time: number;
  msg: string;
  [field: string]: unknown;
}

const INFO = 30;

/** Every line the process wrote on stdout and stderr, each parsed as JSON (or the test fails). */
function parsed(cli: Cli): LogLine[] {
  return cli.output.map((line) => {
    try {
      return JSON.parse(line) as LogLine;
    } catch {
      return assert.fail(`not a JSON line: ${line}`);
    }
  });
}

function secrets() {
  return {
    publishKey: `pk-${randomBytes(12).toString('hex')}`,
    adminToken: `at-${randomBytes(12).toString('hex')}`,
  };
}

/** Runs a script as a process of its own with `--import tsx`; resolves with its output and exit code. */
async function runScript(
  source: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vtp-log-'));
  const file = path.join(dir, 'script.mts');
  await writeFile(file, source);
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const [code] = await once(child, 'exit');
    return { code: code as number | null, stdout, stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('logs', { timeout: 90_000 }, () => {
  it('at the default level write JSON lines for events only: stream start and end, encoder start and stop, one cap line for a full stream, no request lines', async () => {
    const { publishKey, adminToken } = secrets();
    const cli = await startCli(['--max-viewers', '2'], {
      VTP_PUBLISH_KEY: publishKey,
      VTP_ADMIN_TOKEN: adminToken,
    });
    const api = `${cli.url}/api/v1`;
    const admin = { authorization: `Bearer ${adminToken}` };
    const sessions: string[] = [];
    let window: { from: number; to: number; seconds: number } | undefined;
    try {
      const started = await call(
        `${api}/transcode/start`,
        'POST',
        { recording_id: 'lec', preset: 'light' },
        admin,
      );
      assert.equal(started.status, 201, JSON.stringify(started.body));
      await waitFor(
        async () => {
          const res = await fetch(`${cli.url}/live/lec/Low/index.m3u8`);
          return res.ok && (await res.text()).includes('#EXTINF') ? true : undefined;
        },
        20_000,
        'the built-in encoder to publish',
      );

      // A busy stretch: ingest of four renditions, two viewers playing, a crowd refused.
      const from = cli.output.length;
      const began = performance.now();
      for (const viewer of ['ann', 'bob']) {
        const joined = await call(`${api}/streams/lec`, 'POST', { viewer_id: viewer });
        assert.equal(joined.status, 201, JSON.stringify(joined.body));
        sessions.push(joined.body.session_id as string);
      }
      for (let i = 0; i < 20; i++)
        assert.equal(
          (await call(`${api}/streams/lec`, 'POST', { viewer_id: `late-${i}` })).status,
          503,
        );
      const played = await Promise.all(
        sessions.map((session) =>
          watchHls({
            masterUrl: `${cli.url}/live/lec/master.m3u8?session=${session}`,
            profile: 'Low',
            seconds: 6,
          }),
        ),
      );
      assert.ok(played.every((p) => p.segments > 0));
      window = { from, to: cli.output.length, seconds: (performance.now() - began) / 1000 };

      assert.equal(
        (await call(`${api}/transcode/${started.body.job_id}/stop`, 'POST', undefined, admin))
          .status,
        200,
      );
      assert.equal((await call(`${api}/streams/lec/end`, 'POST', undefined, admin)).status, 200);
    } finally {
      await stopCli(cli);
    }

    const lines = parsed(cli);
    const busy = lines.slice(window.from, window.to).filter((l) => l.level >= INFO);
    const listed = `in ${window.seconds.toFixed(1)} s:\n${busy.map((l) => l.msg).join('\n')}`;
    // The encoder's pace lines are events too, and a loaded machine (CI's two cores) may slow it
    // for real: each change of pace is one line, judged once a second, so they alternate and
    // come at most one a second. Nothing else in the stretch depends on the machine's load.
    const pace = busy.filter((l) => l.msg === 'encoder behind' || l.msg === 'encoder caught up');
    for (let i = 1; i < pace.length; i++)
      assert.notEqual(pace[i]?.msg, pace[i - 1]?.msg, `each change of pace once ${listed}`);
    assert.ok(pace.length <= Math.ceil(window.seconds) + 1, `pace lines ${listed}`);
    // Before, ingest alone wrote 8 info lines a second per stream and each request two: the
    // stretch made over a hundred requests, and wrote one line (the cap) besides pace.
    const others = busy.filter((l) => !pace.includes(l));
    assert.ok(others.length <= 3, `${others.length} lines besides the pace ${listed}`);
    assert.ok(!lines.some((l) => 'statusCode' in l || /request/.test(l.msg)), 'no request lines');
    const said = (msg: string) => lines.filter((l) => l.msg === msg);
    assert.equal(said('stream started').length, 1);
    assert.equal(said('stream started')[0]?.recordingId, 'lec');
    assert.equal(said('stream ended').length, 1);
    assert.equal(said('encoder started').length, 1);
    assert.equal(said('encoder started')[0]?.recordingId, 'lec');
    assert.equal(said('encoder stopped').length, 1);
    const cap = said('viewer cap reached: new viewers are refused');
    assert.equal(cap.length, 1, 'twenty refusals, one line');
    assert.equal(cap[0]?.maxViewers, 2);
    const text = cli.output.join('\n');
    for (const secret of [publishKey, adminToken, ...sessions])
      assert.ok(!text.includes(secret), `${secret} in the logs`);
  });

  it('at debug write one JSON line per request with method, redacted URL, status and milliseconds', async () => {
    const { publishKey, adminToken } = secrets();
    const cli = await startCli(['--log-level', 'debug'], {
      VTP_PUBLISH_KEY: publishKey,
      VTP_ADMIN_TOKEN: adminToken,
    });
    let session = '';
    try {
      await pushSegments(cli.url, 'dbg', 'Low', 0, 2, `?key=${encodeURIComponent(publishKey)}`);
      const joined = await call(`${cli.url}/api/v1/streams/dbg`, 'POST', { viewer_id: 'v' });
      session = joined.body.session_id as string;
      const master = await fetch(`${cli.url}/live/dbg/master.m3u8?session=${session}`);
      assert.equal(master.status, 200);
      await master.text();
      for (let i = 0; i < 3; i++)
        await call(`${cli.url}/api/v1/distribution/metrics?n=${i}`, 'GET', undefined, {
          authorization: `Bearer ${adminToken}`,
        });
      assert.equal((await fetch(`${cli.url}/no/such/route`)).status, 404);
      // hls-parser prints what it finds wrong in a playlist on stderr unless told not to.
      const bad = await fetch(`${cli.url}/ingest/dbg/Low/index.m3u8?key=${publishKey}`, {
        method: 'PUT',
        body: '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg_9.ts\n',
      });
      assert.ok(bad.status < 500, String(bad.status));
    } finally {
      await stopCli(cli);
    }
    const lines = parsed(cli);
    const requests = lines.filter((l) => l.msg === 'request');
    for (const line of requests) {
      assert.equal(line.level, 20, 'request lines are at debug');
      assert.equal(typeof line.method, 'string');
      assert.equal(typeof line.url, 'string');
      assert.equal(typeof line.statusCode, 'number');
      assert.equal(typeof line.responseTime, 'number');
    }
    const metrics = requests.filter((l) =>
      String(l.url).startsWith('/api/v1/distribution/metrics'),
    );
    assert.deepEqual(
      metrics.map((l) => l.url),
      [
        '/api/v1/distribution/metrics?n=0',
        '/api/v1/distribution/metrics?n=1',
        '/api/v1/distribution/metrics?n=2',
      ],
      'one line per request',
    );
    assert.ok(
      requests.some(
        (l) => l.url === '/no/such/route' && l.statusCode === 404 && l.method === 'GET',
      ),
    );
    assert.ok(
      requests.some(
        (l) =>
          l.method === 'PUT' &&
          l.url === '/ingest/dbg/Low/seg_0.ts?key=[REDACTED]' &&
          l.statusCode === 201,
      ),
      JSON.stringify(requests.slice(0, 3)),
    );
    assert.ok(
      requests.some((l) => l.url === '/live/dbg/master.m3u8?session=[REDACTED]'),
      'session ids are masked',
    );
    const text = cli.output.join('\n');
    for (const secret of [publishKey, encodeURIComponent(publishKey), adminToken, session])
      assert.ok(!text.includes(secret), `${secret} in the logs`);
  });

  it("turn Node's own warnings and a crash into JSON lines, with nothing on stderr", async () => {
    const processLog = new URL('../../src/process-log.ts', import.meta.url).href;
    const { code, stdout, stderr } = await runScript(`
      import pino from '${import.meta.resolve('pino')}';
      import { logProcessOutput } from '${processLog}';
      logProcessOutput(pino({ name: 'vtp-live' }));
      process.emitWarning('something is deprecated', { type: 'DeprecationWarning', code: 'DEP_X' });
      setTimeout(() => Promise.reject(new Error('nobody caught me')), 50);
    `);
    assert.equal(stderr, '', 'Node printed nothing itself');
    assert.equal(code, 1, 'a crash still ends the process');
    const lines = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as LogLine);
    assert.equal(lines.length, 2, stdout);
    assert.equal(lines[0]?.level, 40);
    assert.match(
      String((lines[0]?.err as { message?: string })?.message),
      /something is deprecated/,
    );
    assert.equal(lines[1]?.level, 60);
    assert.equal(lines[1]?.origin, 'unhandledRejection');
    assert.match(String((lines[1]?.err as { stack?: string })?.stack), /nobody caught me/);
  });
});

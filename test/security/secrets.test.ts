import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startCli, stopCli } from '../helpers/cli.js';
import { call } from '../helpers/http.js';
import { pushSegments } from '../helpers/push.js';
import { waitFor } from '../helpers/wait.js';

/** Every running process's argv, as any local user can read it; vanished processes are skipped. */
function allCommandLines(): Map<number, string> {
  const lines = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      lines.set(
        Number(entry),
        readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' '),
      );
    } catch {
      // The process ended between listing and reading.
    }
  }
  return lines;
}

describe('secrets', { timeout: 40_000 }, () => {
  it('keeps the publish key out of logs and argv and source credentials out of encoder status', async () => {
    const publishKey = `pk-${randomBytes(16).toString('hex')}`;
    const adminToken = `at-${randomBytes(16).toString('hex')}`;
    // Debug: request lines (with their URLs) are written at debug only.
    const cli = await startCli(['--log-level', 'debug'], {
      VTP_PUBLISH_KEY: publishKey,
      VTP_ADMIN_TOKEN: adminToken,
    });
    const api = `${cli.url}/api/v1`;
    // Lower case on purpose: the scheme is case-insensitive.
    const admin = { authorization: `bearer ${adminToken}` };
    const ffmpegPids: number[] = [];
    let session = '';
    try {
      const started = await call(
        `${api}/transcode/start`,
        'POST',
        { recording_id: 'sec', preset: 'light' },
        admin,
      );
      assert.equal(started.status, 201, JSON.stringify(started.body));
      ffmpegPids.push(started.body.pid);
      await waitFor(
        async () => {
          const res = await fetch(`${cli.url}/live/sec/Low/index.m3u8`);
          return res.ok && (await res.text()).includes('#EXTINF') ? true : undefined;
        },
        20_000,
        'segments the built-in encoder pushed through ingest',
      );

      const argv = allCommandLines();
      const ffmpeg = argv.get(started.body.pid) ?? '';
      assert.match(
        ffmpeg,
        /-headers Authorization: Bearer vtpjob-/,
        'ffmpeg runs with its job token',
      );
      assert.ok(!ffmpeg.includes('key='), ffmpeg);
      for (const [pid, line] of argv)
        assert.ok(!line.includes(publishKey), `the publish key is in the argv of ${pid}`);

      // The job token read from argv opens this job's stream only.
      const jobToken = /Bearer (vtpjob-[A-Za-z0-9_-]+)/.exec(ffmpeg)?.[1] ?? '';
      const elsewhere = await fetch(`${cli.url}/ingest/other/Low/seg_0.ts`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${jobToken}` },
        body: 'x',
      });
      assert.equal(elsewhere.status, 403);

      await pushSegments(cli.url, 'pushed', 'Low', 0, 3, `?key=${encodeURIComponent(publishKey)}`);
      const wrong = await fetch(`${cli.url}/ingest/pushed/Low/seg_9.ts?key=wrong-key`, {
        method: 'PUT',
        body: 'x',
      });
      assert.equal(wrong.status, 403);
      const joined = await call(`${api}/streams/pushed`, 'POST', { viewer_id: 'student' });
      assert.equal(joined.status, 201, JSON.stringify(joined.body));
      session = joined.body.session_id as string;
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${cli.url}/live/pushed/master.m3u8?session=${session}`);
        assert.equal(res.status, 200);
        await res.arrayBuffer();
      }

      const camera = await call(
        `${api}/transcode/start`,
        'POST',
        {
          recording_id: 'cam',
          source: { type: 'url', url: 'http://user:secretpass@127.0.0.1:9/x.ts' },
        },
        admin,
      );
      assert.equal(camera.status, 201, JSON.stringify(camera.body));
      ffmpegPids.push(camera.body.pid);
      const listed = await waitFor(
        async () => {
          const list = await call(`${api}/transcode`, 'GET');
          const job = list.body.encoders.find(
            (e: { job_id: string }) => e.job_id === camera.body.job_id,
          );
          return job?.last_error ? list : undefined;
        },
        10_000,
        'the camera job to fail',
      );
      const text = JSON.stringify(listed.body);
      assert.ok(!text.includes('secretpass'), text);
      assert.ok(!text.includes(publishKey) && !text.includes(jobToken), text);
      await call(`${api}/transcode/${camera.body.job_id}/stop`, 'POST', undefined, admin);

      const stopped = await call(
        `${api}/transcode/${started.body.job_id}/stop`,
        'POST',
        undefined,
        admin,
      );
      assert.equal(stopped.body.state, 'stopped');
      const revoked = await fetch(`${cli.url}/ingest/sec/Low/seg_99999.ts`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${jobToken}` },
        body: 'x',
      });
      assert.equal(revoked.status, 403, 'a stopped job’s token no longer publishes');

      const health = await call(`${api}/distribution/health`, 'GET');
      assert.equal(health.status, 200);
      assert.equal(health.body.status, 'healthy');
    } finally {
      await stopCli(cli);
      for (const pid of ffmpegPids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone, as it should be.
        }
      }
    }
    const logs = cli.output.join('\n');
    assert.ok(
      cli.output.some((l) => l.includes('key=[REDACTED]')),
      'pushes with ?key= were logged',
    );
    for (const secret of [publishKey, encodeURIComponent(publishKey), adminToken, 'secretpass'])
      assert.ok(!logs.includes(secret), `'${secret}' in the logs:\n${logs}`);
    assert.ok(session && !logs.includes(session), 'session ids are masked in logged URLs');
  });
});

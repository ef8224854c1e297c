import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import HLS from 'hls-parser';
import { type Cli, startCli, stopCli } from '../helpers/cli.js';
import { call } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

type MediaPlaylist = InstanceType<typeof HLS.types.MediaPlaylist>;

const ADMIN = { authorization: 'Bearer encoder-restart-token' };
/** A source whose URL carries credentials; nothing listens on port 9, so it keeps retrying. */
const SECRET = 's3cret-pass-9f2'; // the credential that must never reach the data directory
const PRIVATE_URL = `rtmp://alice:${SECRET}@127.0.0.1:9/live/stream-key`;
/** Longer than the store's write-behind (50 ms), with room for a busy machine. */
const SETTLE_MS = 500;

async function kill(cli: Cli): Promise<void> {
  const exited = once(cli.child, 'exit');
  cli.child.kill('SIGKILL');
  await exited;
}

async function playlist(url: string): Promise<MediaPlaylist> {
  const res = await fetch(`${url}/live/lecture/Low/index.m3u8`);
  if (!res.ok) throw new Error(`playlist answered ${res.status}`);
  return HLS.parse(await res.text()) as MediaPlaylist;
}

async function encoders(url: string): Promise<any[]> {
  const res = await call(`${url}/api/v1/transcode`, 'GET', undefined, ADMIN);
  assert.equal(res.status, 200);
  return res.body.encoders;
}

/** Every file of the data directory outside the segment files (the database, its WAL, keys). */
function stateFiles(dir: string): string[] {
  return readdirSync(dir)
    .map((name) => path.join(dir, name))
    .filter((file) => statSync(file).isFile());
}

function alive(pid: number | undefined): boolean {
  return pid !== undefined && existsSync(`/proc/${pid}`);
}

describe('built-in encoders across a SIGKILL restart (same data directory)', {
  timeout: 120_000,
}, () => {
  let dir: string;
  let args: string[];
  const clis: Cli[] = [];
  const ffmpegPids: number[] = [];
  let jobId = '';
  let privateJobId = '';
  let oldPid: number | undefined;
  let lastBefore = -1;

  async function start(): Promise<Cli> {
    const cli = await startCli(args);
    clis.push(cli);
    return cli;
  }

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vtp-restart-enc-'));
    args = [
      '--data-dir',
      dir,
      '--admin-token',
      'encoder-restart-token',
      '--encoder-timeout',
      '120',
    ];
    const first = await start();
    const started = await call(
      `${first.url}/api/v1/transcode/start`,
      'POST',
      { recording_id: 'lecture', preset: 'light' },
      ADMIN,
    );
    assert.equal(started.status, 201, JSON.stringify(started.body));
    jobId = started.body.job_id;
    const privateJob = await call(
      `${first.url}/api/v1/transcode/start`,
      'POST',
      { recording_id: 'private', source: { type: 'url', url: PRIVATE_URL } },
      ADMIN,
    );
    assert.equal(privateJob.status, 201, JSON.stringify(privateJob.body));
    privateJobId = privateJob.body.job_id;
    const before = await waitFor(
      async () => {
        const p = await playlist(first.url);
        return p.segments.length >= 2 ? p : undefined;
      },
      30_000,
      'segments from the built-in encoder',
    );
    lastBefore = before.segments.at(-1)?.mediaSequenceNumber ?? -1;
    oldPid = (await encoders(first.url)).find((e) => e.job_id === jobId)?.pid ?? undefined;
    if (oldPid !== undefined) ffmpegPids.push(oldPid);
    await sleep(SETTLE_MS);
    await kill(first);
  });

  after(async () => {
    for (const cli of clis) await stopCli(cli);
    // An ffmpeg that outlived its server must not outlive the test either.
    for (const pid of ffmpegPids) {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps URL sources sealed: their credentials never reach the data directory in clear', () => {
    const files = stateFiles(dir);
    assert.ok(
      files.some((f) => path.basename(f).startsWith('vtp.db')),
      files.join(', '),
    );
    // The jobs are there, sealed: the check below is not passing on an empty table.
    const db = new Database(path.join(dir, 'vtp.db'), { readonly: true });
    const rows = db.prepare('SELECT job_id, source_sealed FROM encoder_jobs').all() as {
      job_id: string;
      source_sealed: string;
    }[];
    db.close();
    assert.deepEqual(rows.map((r) => r.job_id).sort(), [jobId, privateJobId].sort());
    for (const row of rows) assert.match(row.source_sealed, /^v1\./);
    for (const file of files) {
      const bytes = readFileSync(file);
      assert.equal(bytes.includes(SECRET), false, `${path.basename(file)} holds the password`);
      assert.equal(bytes.includes('stream-key'), false, `${path.basename(file)} holds the URL`);
    }
  });

  it('the killed server’s ffmpeg exits once its pushes fail', async () => {
    assert.equal(typeof oldPid, 'number');
    await waitFor(
      async () => (alive(oldPid) ? undefined : true),
      20_000,
      'the orphaned ffmpeg to exit',
    );
  });

  it('starts the recorded jobs again with their ids and continues the stream with a discontinuity', async () => {
    const second = await start();
    const listed = await encoders(second.url);
    const job = listed.find((e) => e.job_id === jobId);
    assert.ok(job, `job ${jobId} listed again: ${JSON.stringify(listed)}`);
    assert.equal(job.recording_id, 'lecture');
    assert.equal(job.state, 'running');
    assert.notEqual(job.pid, oldPid, 'a new ffmpeg');
    if (typeof job.pid === 'number') ffmpegPids.push(job.pid);
    const privateJob = listed.find((e) => e.job_id === privateJobId);
    assert.ok(privateJob, 'the job whose source is sealed comes back too');
    assert.equal(privateJob.recording_id, 'private');
    assert.ok(['running', 'restarting'].includes(privateJob.state), privateJob.state);
    assert.equal(JSON.stringify(privateJob).includes(SECRET), false, 'the status masks it');

    const continued = await waitFor(
      async () => {
        const p = await playlist(second.url);
        return p.segments.some((s) => s.discontinuity && s.mediaSequenceNumber > lastBefore)
          ? p
          : undefined;
      },
      30_000,
      'new segments after the restored ones, with a discontinuity',
    );
    const sequences = continued.segments.map((s) => s.mediaSequenceNumber);
    assert.deepEqual(
      sequences,
      [...sequences].sort((a, b) => a - b),
      'in order',
    );
    const first = continued.segments.find(
      (s) => s.discontinuity && s.mediaSequenceNumber > lastBefore,
    );
    assert.ok(
      continued.segments.some((s) => s.mediaSequenceNumber < (first?.mediaSequenceNumber ?? 0)),
      'restored segments come before the new ones',
    );
  });

  it('forgets a job stopped through the API and keeps the others across a graceful restart', async () => {
    const second = clis.at(-1) as Cli;
    const stopped = await call(
      `${second.url}/api/v1/transcode/${privateJobId}/stop`,
      'POST',
      undefined,
      ADMIN,
    );
    assert.equal(stopped.status, 200);
    const pid = (await encoders(second.url)).find((e) => e.job_id === jobId)?.pid;
    await sleep(SETTLE_MS);
    await stopCli(second);
    assert.equal(alive(pid), false, 'a graceful stop stops its ffmpeg');
    const third = await start();
    const ids = (await encoders(third.url)).map((e) => e.job_id);
    assert.deepEqual(ids, [jobId]);
    for (const e of await encoders(third.url))
      if (typeof e.pid === 'number') ffmpegPids.push(e.pid);
    await stopCli(third);
  });

  it('logs and skips a job whose source cannot be unsealed (key file lost)', async () => {
    await rm(path.join(dir, 'vtp.key'));
    const fourth = await start();
    assert.deepEqual(await encoders(fourth.url), []);
    assert.ok(
      fourth.output.some((line) => line.includes(jobId) && line.includes('vtp.key')),
      'the log names the job and the key file',
    );
    await stopCli(fourth);
  });
});

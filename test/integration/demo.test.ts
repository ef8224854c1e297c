import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { it } from 'node:test';
import { call } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;

it('vtp-live demo runs a live lecture with viewers and stops everything on Ctrl-C', {
  timeout: 90_000,
}, async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CLI, 'demo', '--port', '0', '--viewers', '2'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = once(child, 'exit');
  try {
    const lines: string[] = [];
    const player = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no player URL: ${lines.join('\n')}`)),
        30_000,
      );
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        const match = /Player:\s+(\S+)/.exec(line);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
    });
    assert.match(player, /^http:\/\/127\.0\.0\.1:\d+\/watch\/lecture$/);
    const base = new URL(player).origin;
    const stream = await waitFor(
      async () => {
        const list = (await call(`${base}/api/v1/streams`, 'GET')).body.streams;
        const lecture = list.find((s: any) => s.recording_id === 'lecture');
        return lecture?.active_viewers === 2 && lecture.total_segments_served > 0
          ? lecture
          : undefined;
      },
      40_000,
      'the demo stream with its two viewers',
    );
    assert.equal(stream.encoder.state, 'running');
    const ffmpegPid = stream.encoder.pid as number;
    assert.ok(existsSync(`/proc/${ffmpegPid}`));
    assert.equal((await fetch(player)).status, 200);

    child.kill('SIGINT');
    const [code] = await exited;
    assert.equal(code, 0);
    assert.equal(existsSync(`/proc/${ffmpegPid}`), false, 'the encoder stopped with the demo');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

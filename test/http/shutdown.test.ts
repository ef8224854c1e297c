import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { startCli } from '../helpers/cli.js';
import { call, startFakeCdn } from '../helpers/http.js';
import { segmentInput } from '../helpers/segments.js';

const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;

describe('graceful shutdown', () => {
  it('drains queued deliveries before it closes, refusing new work meanwhile', async () => {
    const cdn = await startFakeCdn(() => new Promise((r) => setTimeout(() => r(201), 20)));
    const server = await startServer(
      loadConfig(
        {
          port: '0',
          'rtmp-port': '0',
          workers: '1',
          'cdn-base-url': cdn.url,
          'log-level': 'silent',
          // Its own data directory, not ./vtp-data of whoever runs the tests.
          'data-dir': mkdtempSync(path.join(tmpdir(), 'vtp-drain-')),
        },
        {},
      ),
    );
    try {
      const api = `${server.url}/api/v1`;
      await call(`${api}/streams/start`, 'POST', { recording_id: 'drain' });
      for (let i = 0; i < 10; i++)
        server.service.addSegmentToStream('drain', segmentInput(i, 'Low'));
      await call(`${api}/streams/drain`, 'POST', { viewer_id: 'v' });
      for (let i = 0; i < 10; i++) {
        const res = await call(`${api}/segments/deliver`, 'POST', {
          recording_id: 'drain',
          viewer_id: 'v',
          segment_id: `seg-${i}`,
        });
        assert.equal(res.status, 202);
      }
      const closing = server.close();
      assert.throws(() => server.service.deliverSegmentToViewer('drain', 'v', 'seg-0'), {
        code: 'SHUTTING_DOWN',
      });
      assert.equal(await closing, true, 'drained within the deadline');
      assert.equal(cdn.requests.length, 10, 'every accepted delivery went out');
      assert.equal(server.service.getStreamStatistics('drain').totalSegmentsServed, 10);
      await assert.rejects(fetch(`${api}/distribution/health`), 'no longer listening');
    } finally {
      await server.close();
      await cdn.close();
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`exits 0 on ${signal} after draining`, async () => {
      const { child, url, output: lines } = await startCli();
      const health = await call(`${url}/api/v1/distribution/health`, 'GET');
      assert.equal(health.body.status, 'healthy');
      const exited = once(child, 'exit');
      child.kill(signal);
      const [code] = await exited;
      assert.equal(code, 0);
      assert.ok(
        lines.some((l) => l.includes('drained, bye')),
        lines.join('\n'),
      );
    });
  }

  it('refuses a bad setting with a message naming it and exit code 2', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', 'eighty'], {
      stdio: 'pipe',
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const [code] = await once(child, 'exit');
    assert.equal(code, 2);
    assert.match(stderr, /--port must be a whole number/);
  });
});

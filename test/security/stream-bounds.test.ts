import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { startCli } from '../helpers/cli.js';
import { call, startTestServer } from '../helpers/http.js';
import { startMeasuredServer } from '../helpers/measured-server.js';
import { pushSegments } from '../helpers/push.js';
import { rawPut } from '../helpers/raw-put.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;

describe('streams without bound', () => {
  it('stops 20,000 implicit-stream attempts at --max-streams, and memory returns to its baseline', async () => {
    const server = await startMeasuredServer({
      service: { maxStreams: 50, retentionMs: 1500, cleanupIntervalMs: 200 },
      ingest: { encoderTimeoutMs: 1000 },
    });
    try {
      // One stream through its whole life first, so code loaded on first use is not growth.
      await fetch(`${server.url}/ingest/warm/Low/seg_0.ts`, { method: 'PUT', body: 'x' });
      await waitFor(
        async () => (await server.measure()).streams === 0 || undefined,
        10_000,
        'warm-up stream retired',
      );
      const baseline = await server.measure();
      const statuses = new Map<string, number>();
      let next = 0;
      let flooding = true;
      let mostHeld = 0;
      // Streams end (no media) and leave while the flood goes on, so new ones get in: what must
      // hold is that the server never holds more than --max-streams at once.
      const sampler = (async () => {
        while (flooding) {
          mostHeld = Math.max(mostHeld, await server.streams());
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
      const worker = async () => {
        while (next < 20_000) {
          next++;
          const res = await fetch(`${server.url}/ingest/flood-${next}/Low/seg_0.ts`, {
            method: 'PUT',
            body: 'x',
          });
          const body = (await res.json()) as { error?: { code: string } };
          const key = res.status === 503 ? `503 ${body.error?.code}` : String(res.status);
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
        }
      };
      await Promise.all(Array.from({ length: 32 }, worker));
      flooding = false;
      await sampler;
      const refused = statuses.get('503 TOO_MANY_STREAMS') ?? 0;
      assert.equal((statuses.get('201') ?? 0) + refused, 20_000, JSON.stringify([...statuses]));
      assert.ok(refused > 15_000, JSON.stringify([...statuses]));
      assert.ok(mostHeld > 0 && mostHeld <= 50, `held ${mostHeld} streams at once`);
      // The flood's streams get no media, end after the encoder timeout and leave after retention.
      await waitFor(
        async () => (await server.measure()).streams === 0 || undefined,
        15_000,
        'flood retired',
      );
      const end = await server.measure();
      assert.equal(end.held, 0);
      assert.ok(
        end.heapUsed - baseline.heapUsed < 4 * MiB,
        `heap grew ${((end.heapUsed - baseline.heapUsed) / MiB).toFixed(1)} MiB`,
      );
      assert.ok(
        end.rss - baseline.rss < 48 * MiB,
        `RSS grew ${((end.rss - baseline.rss) / MiB).toFixed(1)} MiB`,
      );
    } finally {
      await server.close();
    }
  });

  it('ends a stream started through the API that never gets a push, then forgets it', async () => {
    const server = await startTestServer({ retentionMs: 500, cleanupIntervalMs: 100 }, 200, {
      ingest: { encoderTimeoutMs: 500 },
    });
    try {
      const api = `${server.url}/api/v1`;
      await call(`${api}/streams/start`, 'POST', {
        recording_id: 'silent',
        publish_key: 'silent-key-1',
      });
      await waitFor(
        async () =>
          (await call(`${api}/streams/silent`, 'GET')).body.status === 'ended' || undefined,
        5000,
        'silent stream ended',
      );
      await waitFor(
        async () => (await call(`${api}/streams/silent`, 'GET')).status === 404 || undefined,
        5000,
        'silent stream removed',
      );
      // Nothing of it stays: its per-stream key went with it.
      assert.equal(server.ingest.access.publishKeyFor('silent'), undefined);
    } finally {
      await server.close();
    }
  });

  it('keeps serving a stream whose encoder keeps pushing', async () => {
    const server = await startTestServer({}, 200, { ingest: { encoderTimeoutMs: 500 } });
    try {
      for (let i = 0; i < 4; i++) {
        await pushSegments(server.url, 'busy', 'Low', i, i + 1);
        await new Promise((r) => setTimeout(r, 300));
      }
      const stats = await call(`${server.url}/api/v1/streams/busy`, 'GET');
      assert.equal(stats.body.status, 'live');
    } finally {
      await server.close();
    }
  });
});

describe('ids', () => {
  it('refuses ids made only of dots, and reaches every id the API accepts on every route', async () => {
    const server = await startTestServer();
    try {
      const api = `${server.url}/api/v1`;
      for (const id of ['.', '..', '...']) {
        const res = await call(`${api}/streams/start`, 'POST', { recording_id: id });
        assert.equal(res.status, 400, id);
        assert.equal(res.body.error.field, 'recording_id');
        const put = await fetch(`${server.url}/ingest/ok/Low/${id}`, { method: 'PUT', body: 'x' });
        assert.ok(put.status === 400 || put.status === 404, `${id} as a file: ${put.status}`);
      }
      const longest = 'L'.repeat(128);
      assert.equal(
        (await call(`${api}/streams/start`, 'POST', { recording_id: longest })).status,
        201,
      );
      const joined = await call(`${api}/streams/${longest}`, 'POST', {
        viewer_id: 'v'.repeat(128),
      });
      assert.equal(joined.status, 201);
      assert.equal((await call(`${api}/streams/${longest}`, 'GET')).status, 200);
      assert.equal(
        (await call(`${api}/streams/${longest}/viewers/${'v'.repeat(128)}`, 'GET')).status,
        200,
      );
      await pushSegments(server.url, longest, 'Low', 0, 1);
      assert.equal((await fetch(`${server.url}/live/${longest}/master.m3u8`)).status, 200);
      assert.equal((await call(`${api}/streams/${longest}/end`, 'POST')).status, 200);
      const tooLong = await call(`${api}/streams/${'L'.repeat(129)}`, 'GET');
      assert.equal(tooLong.status, 400);
      assert.equal(tooLong.body.error.field, 'recording_id');
    } finally {
      await server.close();
    }
  });
});

describe('slow clients at shutdown', () => {
  it('cuts a trickling upload at the shutdown deadline and exits 0 within it plus 1 s', async () => {
    // No minimum upload rate here, so only the shutdown deadline can end the upload.
    const cli = await startCli(['--shutdown-timeout', '2', '--ingest-min-rate-kib', '0']);
    const upload = rawPut(`${cli.url}/ingest/slow/Low/seg_0.ts`, {
      chunks: Array.from({ length: 600 }, () => new Uint8Array(1)),
      intervalMs: 1000,
    });
    await new Promise((r) => setTimeout(r, 1500));
    const started = performance.now();
    const exited = once(cli.child, 'exit');
    cli.child.kill('SIGTERM');
    const [code] = await exited;
    const seconds = (performance.now() - started) / 1000;
    assert.equal(code, 0, cli.output.join('\n'));
    assert.ok(seconds < 3, `exited after ${seconds.toFixed(2)} s`);
    (await upload).dispose();
  });
});

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../../bench/viewers/free-port.js';
import { type Cli, startCli, stopCli } from '../helpers/cli.js';
import { call } from '../helpers/http.js';
import { publishRtmp, stopPublishers } from '../helpers/publisher.js';
import { waitFor } from '../helpers/wait.js';

describe('stream keys across a restart (same data directory)', { timeout: 120_000 }, () => {
  const clis: Cli[] = [];
  let dir = '';

  after(async () => {
    await stopPublishers();
    for (const cli of clis) await stopCli(cli);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps a stream key sealed on disk, and takes publishes with it after the restart', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'vtp-keys-'));
    const rtmpPort = String(await freePort());
    const args = ['--data-dir', dir, '--rtmp-port', rtmpPort, '--publish-preset', 'light'];
    const first = await startCli(args);
    clis.push(first);
    const started = await call(`${first.url}/api/v1/streams/start`, 'POST', {
      recording_id: 'lecture',
      stream_key: true,
    });
    assert.equal(started.status, 201);
    const key: string = started.body.ingest.stream_key;
    await stopCli(first);

    // Nothing the data directory holds has the key in clear (it is sealed with vtp.key).
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      if (statSync(file).isFile()) {
        assert.ok(!readFileSync(file).includes(key), `${name} holds the key in clear`);
      }
    }

    const second = await startCli(args);
    clis.push(second);
    const ingest = await call(`${second.url}/api/v1/streams/lecture/ingest`, 'GET');
    assert.equal(ingest.status, 200, JSON.stringify(ingest.body));
    assert.equal(ingest.body.stream_key, key);
    const publisher = publishRtmp(ingest.body.rtmp_url, { seconds: 30 });
    await waitFor(
      async () => {
        const body = (await call(`${second.url}/api/v1/streams/lecture`, 'GET')).body;
        return body.ingest?.connected && body.segments_available.Low >= 1 ? true : undefined;
      },
      40_000,
      'the publish after the restart to reach the stream',
    );
    const logged = [...first.output, ...second.output];
    assert.ok(!logged.some((line) => line.includes(key)), 'the key never reaches the log');
    await publisher.stop();
  });
});

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { EncoderManager } from '../../src/ingest/encoder-manager.js';
import { IngestService } from '../../src/ingest/ingest-service.js';
import { DistributionService } from '../../src/service/distribution-service.js';
import { waitFor } from '../helpers/wait.js';

describe('encoder job tokens', () => {
  it('let a job push to its own stream only, and only until revoked', () => {
    const ingest = new IngestService(new DistributionService(), {
      publishKey: 'server-publish-key-0123',
    });
    ingest.access.grantJobToken('lecture', 'vtpjob-abc');
    ingest.access.authorize('lecture', 'vtpjob-abc');
    assert.throws(() => ingest.access.authorize('other', 'vtpjob-abc'), {
      code: 'PUBLISH_KEY_INVALID',
    });
    ingest.access.authorize('other', 'server-publish-key-0123');
    ingest.access.revokeJobToken('vtpjob-abc');
    assert.throws(() => ingest.access.authorize('lecture', 'vtpjob-abc'), {
      code: 'PUBLISH_KEY_INVALID',
    });
  });
});

describe('encoder manager secrets', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vtp-fake-ffmpeg-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  // Stands in for an ffmpeg that fails and echoes its arguments and a source URL on stderr.
  const fake = path.join(dir, 'ffmpeg');
  writeFileSync(
    fake,
    '#!/bin/sh\necho "cannot open http://user:secretpass@cam/x.ts; args: $*" >&2\nexit 1\n',
  );
  chmodSync(fake, 0o755);

  it('grants a fresh token per job, keeps it out of statuses and events, and revokes it when the job stops', async () => {
    const granted: [string, string][] = [];
    const revoked: string[] = [];
    const events: Record<string, unknown>[] = [];
    const manager = new EncoderManager({
      ffmpeg: fake,
      mediaDir: dir,
      minBackoffMs: 50,
      ingestAccess: {
        grantJobToken: (recordingId, token) => granted.push([recordingId, token]),
        revokeJobToken: (token) => revoked.push(token),
      },
      secrets: ['admin-token-0123456789', undefined],
      onEvent: (_event, detail) => events.push(detail),
    });
    manager.setIngestBase('http://127.0.0.1:9');
    const started = manager.start({
      recordingId: 'lecture',
      source: { type: 'test-pattern' },
      preset: 'light',
    });
    const [grant] = granted;
    assert.ok(grant);
    assert.equal(grant[0], 'lecture');
    assert.match(grant[1], /^vtpjob-[A-Za-z0-9_-]{22}$/, '128 random bits');
    const status = await waitFor(
      async () => {
        const s = manager.get(started.jobId);
        return s.lastError ? s : undefined;
      },
      5000,
      'the fake ffmpeg to fail',
    );
    const said = `${status.lastError} ${JSON.stringify(events)}`;
    assert.match(said, /http:\/\/\*\*\*@cam\/x\.ts/);
    assert.ok(!said.includes('secretpass'), said);
    assert.ok(!said.includes(grant[1]), said);
    assert.ok(events.length > 0);
    assert.deepEqual(revoked, [], 'a restarting job keeps its token');

    await manager.stop(started.jobId);
    assert.deepEqual(revoked, [grant[1]]);
    manager.start({ recordingId: 'lecture', source: { type: 'test-pattern' }, preset: 'light' });
    assert.notEqual(granted[1]?.[1], grant[1], 'each job has its own token');
    await manager.stopAll();
    assert.equal(revoked.length, 2);
  });
});

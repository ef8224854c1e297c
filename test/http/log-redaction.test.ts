import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { redactingLoggerOptions } from '../../src/http/log-redaction.js';
import { createRuntime } from '../../src/server.js';

describe('request logs', () => {
  it('mask key, token and session in logged URLs and never log the authorization header', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const publishKey = 'server-publish-key-0123';
    const logger = pino(
      // Request lines are written at debug (request-log.ts).
      { level: 'debug', ...redactingLoggerOptions([publishKey, 'admin-token-0123456789']) },
      sink,
    );
    const runtime = createRuntime({ logger, ingest: { publishKey } });
    try {
      await runtime.app.inject({
        method: 'PUT',
        url: `/ingest/rec/Low/seg_0.ts?key=${publishKey}`,
        payload: 'x',
      });
      await runtime.app.inject({ url: '/live/rec/master.m3u8?session=s-secret&token=t.o.k' });
      await runtime.app.inject({
        url: '/api/v1/streams',
        headers: { authorization: 'Bearer admin-token-0123456789' },
      });
      runtime.app.log.info(`pushed with ?key=${publishKey}`);
      const all = lines.join('\n');
      assert.equal(lines.filter((l) => l.includes('"msg":"request"')).length, 3, all);
      for (const secret of [publishKey, 's-secret', 't.o.k', 'admin-token-0123456789'])
        assert.ok(!all.includes(secret), `${secret} in ${all}`);
      assert.match(all, /"url":"\/ingest\/rec\/Low\/seg_0\.ts\?key=\[REDACTED\]"/);
      assert.ok(!/authorization/i.test(all), all);
    } finally {
      await runtime.close(100);
    }
  });
});

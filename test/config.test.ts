import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration', () => {
  it('defaults to 127.0.0.1:8080 with the seed service settings', () => {
    const c = loadConfig({}, {});
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8080);
    assert.equal(c.workers, 4);
    assert.equal(c.queueCapacity, 1000);
    assert.equal(c.retentionSeconds, 30);
    assert.equal(c.maxViewers, 100);
    assert.equal(c.cdnBaseUrl, undefined);
  });

  it('takes VTP_* environment over defaults and flags over environment', () => {
    const env = {
      VTP_PORT: '9000',
      VTP_HOST: '0.0.0.0',
      VTP_WORKERS: '8',
      VTP_PUBLISH_KEY: 'k'.repeat(16),
      VTP_ADMIN_TOKEN: 'a'.repeat(16),
    };
    const fromEnv = loadConfig({}, env);
    assert.deepEqual([fromEnv.port, fromEnv.host, fromEnv.workers], [9000, '0.0.0.0', 8]);
    const fromFlags = loadConfig({ port: '9100', 'cdn-base-url': 'https://cdn.example.com' }, env);
    assert.deepEqual(
      [fromFlags.port, fromFlags.host, fromFlags.cdnBaseUrl],
      [9100, '0.0.0.0', 'https://cdn.example.com'],
    );
  });

  it('derives the idle timeout from the playlist: 3 target durations plus the playlist duration', () => {
    assert.equal(loadConfig({}, {}).idleTimeoutSeconds, 18);
    assert.equal(
      loadConfig({ 'playlist-segments': '3', retention: '20' }, {}).idleTimeoutSeconds,
      12,
    );
    assert.equal(loadConfig({ 'idle-timeout': '40' }, {}).idleTimeoutSeconds, 40);
  });

  it('keeps segments fetchable a target duration plus a playlist duration after they leave the playlist', () => {
    assert.throws(() => loadConfig({ retention: '20' }, {}), /--retention .* at least 26 s/);
  });

  it('refuses to bind beyond loopback without a publish key and an admin token', () => {
    assert.throws(() => loadConfig({ host: '0.0.0.0' }, {}), /--publish-key .* and --admin-token/);
    assert.throws(
      () => loadConfig({ host: '0.0.0.0', 'publish-key': 'secret-key' }, {}),
      /--admin-token/,
    );
    const open = loadConfig(
      { host: '0.0.0.0', 'publish-key': 'secret-key', 'admin-token': 'admin-secret' },
      {},
    );
    assert.equal(open.host, '0.0.0.0');
  });

  it('names the flag or variable at fault', () => {
    assert.throws(
      () => loadConfig({ port: '70000' }, {}),
      (e: unknown) => e instanceof ConfigError && /--port/.test(e.message),
    );
    assert.throws(
      () => loadConfig({}, { VTP_WORKERS: 'four' }),
      /VTP_WORKERS must be a whole number/,
    );
    assert.throws(
      () => loadConfig({ 'cdn-base-url': 'cdn' }, {}),
      /--cdn-base-url must be an http/,
    );
    assert.throws(() => loadConfig({ 'log-level': 'loud' }, {}), /log level/);
  });
});

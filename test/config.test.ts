import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, isLoopback, loadConfig, MIN_SECRET_LENGTH } from '../src/config.js';

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
      { host: '0.0.0.0', 'publish-key': 'p'.repeat(16), 'admin-token': 'a'.repeat(16) },
      {},
    );
    assert.equal(open.host, '0.0.0.0');
  });

  it('refuses a publish key or admin token shorter than 16 characters beyond loopback, naming the flag and variable', () => {
    assert.equal(MIN_SECRET_LENGTH, 16);
    const long = 'x'.repeat(MIN_SECRET_LENGTH);
    const short = 'x'.repeat(MIN_SECRET_LENGTH - 1);
    assert.throws(
      () => loadConfig({ host: '0.0.0.0', 'publish-key': 'a', 'admin-token': long }, {}),
      (e: unknown) =>
        e instanceof ConfigError && /--publish-key \(VTP_PUBLISH_KEY\).*16/.test(e.message),
    );
    assert.throws(
      () => loadConfig({ host: '0.0.0.0' }, { VTP_PUBLISH_KEY: long, VTP_ADMIN_TOKEN: short }),
      (e: unknown) =>
        e instanceof ConfigError && /--admin-token \(VTP_ADMIN_TOKEN\).*16/.test(e.message),
    );
  });

  it('keeps accepting short secrets on loopback, where the machine is the only client', () => {
    const c = loadConfig({ 'publish-key': 'a', 'admin-token': 'b' }, {});
    assert.deepEqual([c.publishKey, c.adminToken], ['a', 'b']);
  });

  it('counts only IPv4 literals in 127.0.0.0/8 and ::1 as loopback', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '127.255.255.254', '::1'])
      assert.equal(isLoopback(host), true, host);
    for (const host of [
      'localhost',
      '127.evil.com',
      '127.0.0.1.nip.io',
      '128.0.0.1',
      '0.0.0.0',
      '::',
      '::ffff:127.0.0.1',
      '1127.0.0.1',
      '',
    ])
      assert.equal(isLoopback(host), false, host);
  });

  it('refuses host names, even localhost or 127.evil.com, without the secrets', () => {
    for (const host of ['localhost', '127.evil.com'])
      assert.throws(() => loadConfig({ host }, {}), /--publish-key .* and --admin-token/, host);
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

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';
import { run } from './helpers/exec.js';

const SECRET = 'push-secret-0123';
const CLI = new URL('../src/cli.ts', import.meta.url).pathname;

describe('--cdn-push-targets', () => {
  it('is off by default and taken from the flag or VTP_CDN_PUSH_TARGETS', () => {
    assert.equal(loadConfig({}, {}).cdnPushTargets, undefined);
    const list = `https://a.example.com/origin,http://pusher:${SECRET}@b.example.net`;
    assert.equal(loadConfig({ 'cdn-push-targets': list }, {}).cdnPushTargets, list);
    assert.equal(loadConfig({}, { VTP_CDN_PUSH_TARGETS: list }).cdnPushTargets, list);
  });

  for (const [name, flags, env, message] of [
    [
      'a target that is not http(s), named by its flag',
      { 'cdn-push-targets': `ftp://pusher:${SECRET}@cdn.example.com` },
      {},
      /^--cdn-push-targets target 1 must be an http:\/\/ or https:\/\/ URL, not ftp:$/,
    ],
    [
      'a list with an empty entry',
      { 'cdn-push-targets': 'http://a.example.com,' },
      {},
      /^--cdn-push-targets lists an empty target/,
    ],
    [
      'a target that is no URL, named by its variable',
      {},
      { VTP_CDN_PUSH_TARGETS: `http://a.example.com,${SECRET}` },
      /^VTP_CDN_PUSH_TARGETS target 2 is not a valid URL$/,
    ],
  ] as const) {
    it(`refuses ${name}, never repeating a secret`, () => {
      assert.throws(
        () => loadConfig(flags, env),
        (error) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, message);
          assert.ok(!error.message.includes(SECRET), error.message);
          return true;
        },
      );
    });
  }

  it('needs at least two delivery workers, so one always stays for viewers', () => {
    const targets = 'http://cdn.example.com';
    assert.equal(loadConfig({ 'cdn-push-targets': targets, workers: '2' }, {}).workers, 2);
    assert.throws(
      () => loadConfig({ 'cdn-push-targets': targets, workers: '1' }, {}),
      /--cdn-push-targets \(VTP_CDN_PUSH_TARGETS\) needs --workers \(VTP_WORKERS\) of at least 2/,
    );
  });

  it('stops `vtp-live serve` with exit code 2 and a message naming the flag', async () => {
    const result = await run(
      process.execPath,
      ['--import', 'tsx', CLI, 'serve', '--port', '0', '--cdn-push-targets', `mailto:${SECRET}`],
      30_000,
    );
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      /--cdn-push-targets target 1 must be an http:\/\/ or https:\/\/ URL, not mailto:/,
    );
    assert.ok(!`${result.stdout}${result.stderr}`.includes(SECRET));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, MIN_SECRET_LENGTH } from '../src/config.js';

const SECRET = 'w'.repeat(MIN_SECRET_LENGTH);

describe('webhook settings', () => {
  it('are off by default', () => {
    const c = loadConfig({}, {});
    assert.deepEqual([c.webhookUrl, c.webhookSecret], [undefined, undefined]);
  });

  it('take the URL and the secret from flags or the environment', () => {
    const fromEnv = loadConfig(
      {},
      { VTP_WEBHOOK_URL: 'https://lms.example.edu/hooks/vtp', VTP_WEBHOOK_SECRET: SECRET },
    );
    assert.deepEqual(
      [fromEnv.webhookUrl, fromEnv.webhookSecret],
      ['https://lms.example.edu/hooks/vtp', SECRET],
    );
    const fromFlags = loadConfig(
      { 'webhook-url': 'http://127.0.0.1:9000/hook', 'webhook-secret': SECRET },
      {},
    );
    assert.equal(fromFlags.webhookUrl, 'http://127.0.0.1:9000/hook');
  });

  for (const [name, flags, message] of [
    [
      'a URL without a secret',
      { 'webhook-url': 'https://lms.example.edu/hook' },
      /--webhook-url \(VTP_WEBHOOK_URL\) needs --webhook-secret \(VTP_WEBHOOK_SECRET\) of at least 16/,
    ],
    [
      'a short secret',
      { 'webhook-url': 'https://lms.example.edu/hook', 'webhook-secret': 'short' },
      /--webhook-secret \(VTP_WEBHOOK_SECRET\) must be at least 16 characters/,
    ],
    [
      'a URL that is not http(s)',
      { 'webhook-url': 'ftp://lms.example.edu/hook', 'webhook-secret': SECRET },
      /--webhook-url must be an http:\/\/ or https:\/\/ URL/,
    ],
    [
      'a URL that does not parse',
      { 'webhook-url': 'http://[::1/hook', 'webhook-secret': SECRET },
      /--webhook-url \(VTP_WEBHOOK_URL\) is not a valid URL/,
    ],
    [
      'a URL with credentials',
      { 'webhook-url': 'https://user:pass@lms.example.edu/hook', 'webhook-secret': SECRET },
      /must not carry user:password@/,
    ],
  ] as const) {
    it(`refuse ${name} with a message naming the setting`, () => {
      assert.throws(
        () => loadConfig(flags, {}),
        (error) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }

  it('never echo the secret in an error', () => {
    const secret = 'tooshort1';
    assert.throws(
      () =>
        loadConfig(
          {},
          { VTP_WEBHOOK_URL: 'https://lms.example.edu/h', VTP_WEBHOOK_SECRET: secret },
        ),
      (error: Error) => error instanceof ConfigError && !error.message.includes(secret),
    );
  });
});

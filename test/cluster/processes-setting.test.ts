import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { CLUSTER_DEFAULTS, resolveProcesses } from '../../src/cluster/cluster-defaults.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { loggedSecrets } from '../../src/server.js';

describe('--processes', () => {
  it('defaults to the single process', () => {
    assert.equal(loadConfig({}, {}).processes, 1);
    assert.equal(CLUSTER_DEFAULTS.processes, 1);
  });

  it('takes a count or auto, from the flag or VTP_PROCESSES', () => {
    assert.equal(loadConfig({ processes: '4' }, {}).processes, 4);
    assert.equal(loadConfig({}, { VTP_PROCESSES: 'auto' }).processes, 0);
    assert.equal(loadConfig({ processes: '2' }, { VTP_PROCESSES: '8' }).processes, 2);
    assert.equal(resolveProcesses(0), availableParallelism());
    assert.equal(resolveProcesses(3), 3);
  });

  it('refuses anything else, naming the flag or variable', () => {
    assert.throws(
      () => loadConfig({ processes: 'many' }, {}),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(
          error.message,
          /^--processes must be 'auto' or a whole number from 0 to 256, got 'many'$/,
        );
        return true;
      },
    );
    assert.throws(
      () => loadConfig({}, { VTP_PROCESSES: '257' }),
      /^Error: VTP_PROCESSES must be 'auto'/,
    );
    assert.throws(() => loadConfig({ processes: '-1' }, {}), /--processes/);
  });
});

describe('what an HLS worker keeps out of its log lines', () => {
  it('is the primary’s list: keys, tokens, the state URL’s password, push targets’ credentials', () => {
    const config = loadConfig(
      {},
      {
        VTP_ADMIN_TOKEN: 'admin-token-of-this-test',
        VTP_PUBLISH_KEY: 'publish-key-of-this-test',
        VTP_STATE_URL: 'redis://:state-password-of-this-test@127.0.0.1:6379',
        VTP_CDN_PUSH_TARGETS: 'https://pusher:target-password@cdn.example/live?token=target-token',
      },
    );
    const secrets = loggedSecrets(config);
    for (const secret of [
      'admin-token-of-this-test',
      'publish-key-of-this-test',
      'state-password-of-this-test',
      'target-password',
      'target-token',
    ]) {
      assert.ok(secrets.includes(secret), secret);
    }
  });
});

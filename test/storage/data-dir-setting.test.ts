import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig, SETTINGS } from '../../src/config.js';
import { STORAGE_DEFAULTS } from '../../src/storage/store.js';

describe('--data-dir', () => {
  it('defaults to ./vtp-data, read from STORAGE_DEFAULTS', () => {
    assert.equal(loadConfig({}, {}).dataDir, './vtp-data');
    assert.equal(SETTINGS.find((s) => s.key === 'dataDir')?.fallback, STORAGE_DEFAULTS.dataDir);
  });

  it('is taken from VTP_DATA_DIR, and the flag wins over it', () => {
    assert.equal(loadConfig({}, { VTP_DATA_DIR: '/srv/vtp' }).dataDir, '/srv/vtp');
    assert.equal(
      loadConfig({ 'data-dir': '/mnt/state' }, { VTP_DATA_DIR: '/srv/vtp' }).dataDir,
      '/mnt/state',
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config.js';
import { INGEST_DEFAULTS } from '../src/ingest/ingest-service.js';

describe('ingest limit settings', () => {
  it('default to INGEST_DEFAULTS', () => {
    const c = loadConfig({}, {});
    assert.deepEqual(
      [
        c.maxPlaylistKiB * 1024,
        c.maxPlaylistEntries,
        c.maxInitSections,
        c.ingestMinRateKiB * 1024,
        c.streamIngestBudgetMiB * 1024 * 1024,
        c.ingestBudgetMiB * 1024 * 1024,
      ],
      [
        INGEST_DEFAULTS.maxPlaylistBytes,
        INGEST_DEFAULTS.maxPlaylistEntries,
        INGEST_DEFAULTS.maxInitSections,
        INGEST_DEFAULTS.minUploadBytesPerSec,
        INGEST_DEFAULTS.streamBudgetBytes,
        INGEST_DEFAULTS.totalBudgetBytes,
      ],
    );
    assert.deepEqual([c.maxPlaylistKiB, c.maxPlaylistEntries, c.maxInitSections], [256, 2000, 4]);
    assert.deepEqual(
      [c.ingestMinRateKiB, c.streamIngestBudgetMiB, c.ingestBudgetMiB],
      [8, 256, 2048],
    );
  });

  it('come from flags over VTP_* variables', () => {
    const c = loadConfig(
      { 'max-playlist-kib': '64', 'ingest-min-rate-kib': '0', 'ingest-budget-mib': '512' },
      {
        VTP_MAX_PLAYLIST_KIB: '32',
        VTP_MAX_PLAYLIST_ENTRIES: '500',
        VTP_MAX_INIT_SECTIONS: '2',
        VTP_STREAM_INGEST_BUDGET_MIB: '64',
      },
    );
    assert.deepEqual(
      [
        c.maxPlaylistKiB,
        c.maxPlaylistEntries,
        c.maxInitSections,
        c.ingestMinRateKiB,
        c.streamIngestBudgetMiB,
        c.ingestBudgetMiB,
      ],
      [64, 500, 2, 0, 64, 512],
    );
  });

  it('refuse budgets that could never take a segment, naming the setting', () => {
    assert.throws(
      () => loadConfig({ 'stream-ingest-budget-mib': '8', 'max-segment-mib': '16' }, {}),
      /--stream-ingest-budget-mib .* at least --max-segment-mib/,
    );
    assert.throws(
      () => loadConfig({}, { VTP_INGEST_BUDGET_MIB: '100' }),
      /--ingest-budget-mib .* at least --stream-ingest-budget-mib/,
    );
    assert.throws(() => loadConfig({ 'max-init-sections': '0' }, {}), /--max-init-sections/);
  });
});

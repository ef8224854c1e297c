import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { freePort } from '../../bench/viewers/free-port.js';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { launchChromium } from '../helpers/browser.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { publishRtmp, stopPublishers } from '../helpers/publisher.js';

const ARTIFACTS = 'test-artifacts';

let server: TestServer;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let dashboard: Page;
const problems: string[] = [];

async function start(body: object): Promise<any> {
  const started = await call(`${server.url}/api/v1/streams/start`, 'POST', body);
  assert.equal(started.status, 201, JSON.stringify(started.body));
  return started.body;
}

/** The Ingest cell of a stream's row, once its text matches `pattern` (the page polls). */
async function ingestCell(id: string, pattern: RegExp, timeout = 30_000): Promise<string> {
  const shown = await dashboard
    .waitForFunction(
      ([rowId, source]) => {
        const row = [...document.querySelectorAll('#streams tr')].find(
          (tr) => tr.querySelector('th')?.textContent === rowId,
        );
        const text = row?.querySelector('td.ingest')?.textContent ?? '';
        return new RegExp(source as string).test(text) ? text : undefined;
      },
      [id, pattern.source] as const,
      { timeout, polling: 250 },
    )
    .catch(async (error: Error) => {
      const row = await dashboard.locator('#streams tr', { hasText: id }).textContent();
      throw new Error(`ingest of ${id} never matched ${pattern}: row "${row}": ${error.message}`);
    });
  return (await shown.jsonValue()) as string;
}

describe("the dashboard shows each stream's publish from OBS", { timeout: 150_000 }, () => {
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startTestServer({ cleanupIntervalMs: 500 }, 200, {
      ingest: { probe: ffprobeMedia() },
      publishing: { host: '127.0.0.1', rtmpPort: await freePort(), preset: 'light' },
    });
    chromium = await launchChromium();
    dashboard = await chromium.browser.newPage({ viewport: { width: 1600, height: 900 } });
    dashboard.on('pageerror', (error) => problems.push(error.message));
    dashboard.on('console', (message) => {
      // Chromium asks every site for a favicon; the server has none.
      const url = message.location().url;
      if (message.type() === 'error' && !url.endsWith('/favicon.ico')) {
        problems.push(`${message.text()} ${url}`);
      }
    });
  });

  after(async () => {
    await stopPublishers();
    await chromium?.close();
    await server?.close();
  });

  it('shows waiting, then protocol, picture, rate and bitrate while OBS publishes; "—" without a key', async () => {
    const keyed = await start({ recording_id: 'obs-lecture', stream_key: true });
    await start({ recording_id: 'plain-lecture' });
    await dashboard.goto(`${server.url}/dashboard`);

    assert.match(await ingestCell('obs-lecture', /waiting/), /^waiting for the lecturer$/);
    assert.equal(await ingestCell('plain-lecture', /./), '—');

    const publisher = publishRtmp(keyed.ingest.rtmp_url, { seconds: 40 });
    // The bitrate needs two reports of the RTMP server, so it comes last.
    const shown = await ingestCell('obs-lecture', /b\/s/, 45_000);
    assert.match(shown, /^RTMP · 640×360 @ 30 fps · \d+(\.\d)? [kM]b\/s · since \d+:\d\d$/);
    assert.doesNotMatch(shown, /reconnect/, 'a first publish is no reconnect');
    assert.equal(await ingestCell('plain-lecture', /./), '—');
    const html = await dashboard.content();
    assert.ok(!html.includes(keyed.ingest.stream_key), 'the dashboard never shows the key');
    assert.deepEqual(problems, [], 'the page ran without errors');
    await dashboard.screenshot({ path: `${ARTIFACTS}/dashboard-ingest.png`, fullPage: true });
    await publisher.stop();
  });
});

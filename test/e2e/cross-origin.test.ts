import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { launchChromium } from '../helpers/browser.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { playerPage, startPageOrigin } from '../helpers/page-origin.js';
import { ALL_PROFILES, segmentInput } from '../helpers/segments.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The learning platform's page: hls.js from the package, playing the `src` it is given. CMCD
 * goes in request headers, so every request to the VTP server is preflighted.
 */
const PAGE = playerPage(`
  window.hlsErrors = [];
  const hls = new Hls({ cmcd: { useHeaders: true } });
  hls.on(Hls.Events.ERROR, (_event, data) =>
    window.hlsErrors.push({ type: data.type, details: data.details, fatal: data.fatal }));
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
  hls.loadSource(new URLSearchParams(location.search).get('src'));
  hls.attachMedia(video);
`);

function currentTime(page: Page): Promise<number> {
  return page.evaluate(() => (document.querySelector('video') as HTMLVideoElement).currentTime);
}

let chromium: Awaited<ReturnType<typeof launchChromium>>;
let pages: Awaited<ReturnType<typeof startPageOrigin>>;

describe('hls.js on a page of another origin', { timeout: 120_000 }, () => {
  let vtp: TestServer;

  before(async () => {
    // The default CORS setting: any origin may read HLS.
    vtp = await startTestServer({ cleanupIntervalMs: 500 }, 200, {
      ingest: { probe: ffprobeMedia() },
    });
    const started = await call(`${vtp.url}/api/v1/transcode/start`, 'POST', {
      recording_id: 'lecture',
      preset: 'light',
      duration_seconds: 60,
    });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    pages = await startPageOrigin(PAGE);
    chromium = await launchChromium();
    await waitFor(
      async () => {
        const stats = await call(`${vtp.url}/api/v1/streams/lecture`, 'GET');
        if (stats.status !== 200) return undefined;
        const counts = Object.values(stats.body.segments_available as Record<string, number>);
        return counts.length === 4 && counts.every((n) => n >= 3) ? true : undefined;
      },
      30_000,
      'three segments in every rendition',
    );
  });

  after(async () => {
    await chromium?.close();
    await pages?.close();
    await vtp?.close();
  });

  it('plays the live stream: currentTime advances, with no error and CMCD headers sent', async () => {
    assert.notEqual(new URL(pages.origin).port, new URL(vtp.url).port, 'two origins');
    const page = await chromium.browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
    });
    const cmcdRequests: string[] = [];
    page.on('request', (request) => {
      if (request.url().startsWith(vtp.url) && request.headers()['cmcd-request'] !== undefined) {
        cmcdRequests.push(request.url());
      }
    });
    await page.goto(
      `${pages.origin}/?src=${encodeURIComponent(`${vtp.url}/live/lecture/master.m3u8`)}`,
    );
    await page
      .waitForFunction(
        () => (document.querySelector('video') as HTMLVideoElement).currentTime > 0.5,
        null,
        {
          timeout: 30_000,
        },
      )
      .catch(async (error: Error) => {
        const errors = await page.evaluate(() => JSON.stringify((window as any).hlsErrors));
        throw new Error(
          `playback did not start (${errors}; ${problems.join(' | ')}): ${error.message}`,
        );
      });
    const t0 = await currentTime(page);
    await page.waitForTimeout(5000);
    const t1 = await currentTime(page);
    assert.ok(t1 - t0 >= 3, `played ${(t1 - t0).toFixed(2)} s in 5 s`);
    const errors = await page.evaluate(
      () => (window as any).hlsErrors as { type: string; fatal: boolean }[],
    );
    assert.deepEqual(
      errors.filter((e) => e.fatal || e.type === 'networkError'),
      [],
      'no fatal or network error',
    );
    assert.deepEqual(problems, [], 'no error in the page');
    assert.ok(
      cmcdRequests.some((url) => url.includes('.m3u8')) &&
        cmcdRequests.some((url) => !url.includes('.m3u8')),
      `playlists and segments went with CMCD headers: ${cmcdRequests.slice(0, 4).join(', ')}`,
    );
    await page.close();
  });

  it('is refused by a server whose --cors-origins names another origin: nothing plays', async () => {
    const narrow = await startTestServer({}, 200, {
      http: { corsOrigins: 'https://lms.example.edu' },
    });
    try {
      narrow.service.startLiveStream('lecture', 10);
      for (let i = 0; i < 3; i++) {
        for (const p of ALL_PROFILES)
          narrow.service.addSegmentToStream('lecture', segmentInput(i, p));
      }
      const master = `${narrow.url}/live/lecture/master.m3u8`;
      // The server answers (it is the browser that withholds the answer from the page).
      const direct = await fetch(master, { headers: { origin: pages.origin } });
      await direct.arrayBuffer();
      assert.equal(direct.status, 200);
      assert.equal(direct.headers.get('access-control-allow-origin'), null);

      const page = await chromium.browser.newPage();
      const console: string[] = [];
      page.on('console', (message) => console.push(message.text()));
      await page.goto(`${pages.origin}/?src=${encodeURIComponent(master)}`);
      await page.waitForFunction(() => (window as any).hlsErrors.some((e: any) => e.fatal), null, {
        timeout: 15_000,
      });
      const errors = await page.evaluate(() => (window as any).hlsErrors as { details: string }[]);
      assert.equal(errors[0]?.details, 'manifestLoadError');
      assert.ok(
        console.some((line) => /CORS policy/.test(line)),
        `the browser blames CORS: ${console.join(' | ')}`,
      );
      assert.equal(await currentTime(page), 0);
      await page.close();
    } finally {
      await narrow.close();
    }
  });
});

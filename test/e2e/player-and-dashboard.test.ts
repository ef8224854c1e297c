import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { seedBufferPolicy } from '../../src/core/quality.js';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { PlaybackTokens } from '../../src/service/playback-tokens.js';
import { launchChromium } from '../helpers/browser.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

const ARTIFACTS = 'test-artifacts';
const LADDER = ['VeryLow', 'Low', 'Medium', 'High'];
// The server runs as a campus would run it: operator token, publish key, playback tokens.
const ADMIN_TOKEN = 'e2e-admin-token-0123456789';
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
const PLAYBACK_SECRET = 'e2e-playback-secret-0123456789';

/** Opens the dashboard with the admin token typed in, as an operator would. */
async function openDashboard(): Promise<Page> {
  const dashboard = await chromium.browser.newPage({ viewport: { width: 1400, height: 1100 } });
  await dashboard.goto(`${server.url}/dashboard`);
  await dashboard.locator('#admin-token').fill(ADMIN_TOKEN);
  await dashboard.locator('#admin-token').blur();
  return dashboard;
}

let server: TestServer;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let watch: Page;

describe('player page and dashboard in a real browser', { timeout: 180_000 }, () => {
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // The seed's rule: the forced switches below are written in its bands (100 climbs, 5 is
    // VeryLow); vtp would decide from the loopback's throughput instead.
    server = await startTestServer({ cleanupIntervalMs: 500, policy: seedBufferPolicy }, 200, {
      adminToken: ADMIN_TOKEN,
      playbackSecret: PLAYBACK_SECRET,
      ingest: { probe: ffprobeMedia(), publishKey: 'e2e-publish-key-0123456789' },
    });
    const started = await call(
      `${server.url}/api/v1/transcode/start`,
      'POST',
      { recording_id: 'lecture', preset: 'light' },
      ADMIN,
    );
    assert.equal(started.status, 201);
    await waitFor(
      async () => {
        const stats = await call(`${server.url}/api/v1/streams/lecture`, 'GET');
        if (stats.status !== 200) return undefined;
        const counts = Object.values(stats.body.segments_available as Record<string, number>);
        return counts.length === 4 && counts.every((n) => n >= 3) ? true : undefined;
      },
      30_000,
      'three segments in every rendition',
    );
    chromium = await launchChromium();
    watch = await chromium.browser.newPage({ viewport: { width: 1280, height: 900 } });
  });

  after(async () => {
    await chromium?.close();
    await server?.close();
  });

  it('plays the live stream: currentTime advances at least 8 s over 10 s of wall time', async () => {
    const problems: string[] = [];
    watch.on('pageerror', (error) => problems.push(error.message));
    watch.on('console', (message) => {
      if (message.type() !== 'log') problems.push(`${message.type()}: ${message.text()}`);
    });
    // A learning platform hands the student a page URL with a playback token for the lecture.
    const token = await new PlaybackTokens(PLAYBACK_SECRET).issue('lecture');
    await watch.goto(`${server.url}/watch/lecture?token=${token}`);
    await watch
      .waitForFunction(
        () => (document.querySelector('video') as HTMLVideoElement).currentTime > 0.5,
        null,
        {
          timeout: 45_000,
        },
      )
      .catch(async (error: Error) => {
        const state = await watch.evaluate(() => {
          const v = document.querySelector('video') as HTMLVideoElement;
          return `status=${document.querySelector('#status')?.textContent} readyState=${v.readyState} paused=${v.paused} buffered=${v.buffered.length ? v.buffered.end(0) : 0}`;
        });
        throw new Error(
          `playback did not start (${state}; ${problems.join(' | ')}): ${error.message}`,
        );
      });
    const t0 = await watch.evaluate(
      () => (document.querySelector('video') as HTMLVideoElement).currentTime,
    );
    await watch.waitForTimeout(10_000);
    const t1 = await watch.evaluate(
      () => (document.querySelector('video') as HTMLVideoElement).currentTime,
    );
    assert.ok(t1 - t0 >= 8, `played ${(t1 - t0).toFixed(2)} s in 10 s`);
    assert.match(
      (await watch.textContent('#rendition')) ?? '',
      /(VeryLow|Low|Medium|High) \(\d+×\d+/,
    );
    await watch.screenshot({ path: `${ARTIFACTS}/watch.png` });
  });

  it('keeps a player page without a playback token from starting', async () => {
    const page = await chromium.browser.newPage();
    await page.goto(`${server.url}/watch/lecture`);
    await page.waitForFunction(() =>
      document.querySelector('#status')?.textContent?.startsWith('Could not join'),
    );
    assert.match((await page.textContent('#status')) ?? '', /playback token/);
    await page.waitForTimeout(2000);
    const time = await page.evaluate(
      () => (document.querySelector('video') as HTMLVideoElement).currentTime,
    );
    assert.equal(time, 0);
    await page.close();
  });

  it('lists that viewer on the dashboard with its segments', async () => {
    const viewerId = (await watch.textContent('#viewer')) ?? '';
    assert.match(viewerId, /^web-/);
    const dashboard = await openDashboard();
    const row = dashboard.locator('#viewers tr', { hasText: viewerId });
    await row.waitFor({ timeout: 10_000 });
    const segments = Number(await row.locator('td').nth(4).textContent());
    assert.ok(segments > 0, `dashboard shows ${segments} segments`);
    assert.match((await dashboard.textContent('#streams')) ?? '', /lecture.*live/s);
    assert.match((await dashboard.textContent('#streams')) ?? '', /running \d\.\d\d×/);
    await dashboard.waitForTimeout(2500); // a second poll draws the charts
    await dashboard.screenshot({ path: `${ARTIFACTS}/dashboard.png`, fullPage: true });
    await dashboard.close();
  });

  it('switches down when low buffer health is forced through the API', async () => {
    const viewerId = (await watch.textContent('#viewer')) ?? '';
    const adapt = (bufferHealth: number) =>
      call(
        `${server.url}/api/v1/viewers/adapt-quality`,
        'POST',
        { recording_id: 'lecture', viewer_id: viewerId, buffer_health: bufferHealth },
        ADMIN,
      );
    // Lift the viewer to the top first, so a switch down has room to show. The page keeps
    // reporting its own buffer health meanwhile, so lift until the page has followed.
    await waitFor(
      async () => {
        await adapt(100);
        const playing = await watch.evaluate(() => {
          const vtp = (window as any).vtp;
          return vtp.serverBitrate === 'High' && vtp.renditions.at(-1) === 'High';
        });
        return playing ? true : undefined;
      },
      30_000,
      'the page to follow the server up to High and play it',
    );
    const renditionsBefore = await watch.evaluate(
      () => (window as any).vtp.renditions.length as number,
    );
    const switchesBefore = await watch.evaluate(
      () => (window as any).vtp.switches.length as number,
    );

    const forced = await adapt(5);
    assert.equal(forced.body.new_bitrate, 'VeryLow');
    await watch
      .waitForFunction(
        ([ladder, from]) =>
          (window as any).vtp.switches
            .slice(from as number)
            .find(
              (s: { from: string; to: string }) =>
                (ladder as string[]).indexOf(s.to) <= 1 &&
                (ladder as string[]).indexOf(s.from) > (ladder as string[]).indexOf(s.to),
            ),
        [LADDER, switchesBefore] as const,
        { timeout: 15_000 },
      )
      .catch(async (error: Error) => {
        const page = await watch.evaluate(() =>
          JSON.stringify({
            s: (window as any).vtp.switches,
            b: (window as any).vtp.serverBitrate,
            st: document.querySelector('#status')?.textContent,
          }),
        );
        const row = (
          await call(
            `${server.url}/api/v1/streams/lecture/viewers/${viewerId}`,
            'GET',
            undefined,
            ADMIN,
          )
        ).body;
        throw new Error(
          `no switch down: page ${page}; server ${JSON.stringify(row)}: ${error.message}`,
        );
      });
    // hls.js then plays a lower rendition at a segment boundary (the page may step up again
    // afterwards, as its own healthy buffer reports allow).
    await watch.waitForFunction(
      ([ladder, from]) =>
        (window as any).vtp.renditions
          .slice(from as number)
          .some(
            (p: string) => (ladder as string[]).indexOf(p) < (ladder as string[]).indexOf('High'),
          ),
      [LADDER, renditionsBefore] as const,
      { timeout: 20_000 },
    );
    await watch.screenshot({ path: `${ARTIFACTS}/watch-switched-down.png` });
  });

  it('keeps the dashboard usable with 1,000 viewers on a stream: rows capped, the rest behind a filter', async () => {
    server.service.startLiveStream('crowd', 2000);
    for (let i = 0; i < 1000; i++) server.service.joinStream('crowd', `student-${i}`, 'Low');
    const dashboard = await openDashboard();
    await dashboard.locator('#stream-select option[value="crowd"]').waitFor({ state: 'attached' });
    await dashboard.selectOption('#stream-select', 'crowd');
    await dashboard.waitForFunction(
      () => document.querySelector('#viewer-count')?.textContent === 'showing 300 of 1000 viewers',
    );
    assert.equal(await dashboard.locator('#viewers tr').count(), 300);
    await dashboard.fill('#filter', 'student-999');
    await dashboard.waitForFunction(
      () => document.querySelector('#viewer-count')?.textContent === '1 viewer',
    );
    assert.match((await dashboard.textContent('#viewers')) ?? '', /student-999/);
    await dashboard.close();
  });
});

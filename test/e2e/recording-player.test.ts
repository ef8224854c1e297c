import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { ffprobeMedia } from '../../src/ingest/media-probe.js';
import { launchChromium } from '../helpers/browser.js';
import { call, startTestServer, type TestServer } from '../helpers/http.js';
import { startLadder } from '../helpers/ladder.js';

const ARTIFACTS = 'test-artifacts';
/** Seconds of lecture the encoder pushes before the stream ends. */
const LECTURE_SEC = 12;

let server: TestServer;
let dir: string;
let chromium: Awaited<ReturnType<typeof launchChromium>>;

const currentTime = (page: Page) =>
  page.evaluate(() => (document.querySelector('video') as HTMLVideoElement).currentTime);

describe('the player page after a stream ended', { timeout: 120_000 }, () => {
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    dir = await mkdtemp(path.join(tmpdir(), 'vtp-watch-vod-'));
    server = await startTestServer({}, 200, {
      dataDir: dir,
      ingest: { probe: ffprobeMedia(), encoderTimeoutMs: 30_000 },
    });
    const ladder = startLadder(`${server.url}/ingest/talk`, LECTURE_SEC);
    const exited = await ladder.exited;
    assert.equal(exited.code, 0, exited.stderr.slice(-2000));
    assert.equal((await call(`${server.url}/api/v1/streams/talk/end`, 'POST')).status, 200);
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('plays the recording, and seeking to its middle lands there and plays on', async () => {
    const page = await chromium.browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${server.url}/watch/talk`);
    await page
      .waitForFunction(
        () => (document.querySelector('video') as HTMLVideoElement).currentTime > 0.5,
        null,
        { timeout: 30_000 },
      )
      .catch(async (error: Error) => {
        const status = await page.textContent('#status');
        throw new Error(
          `playback did not start (${status}; ${problems.join(' | ')}): ${error.message}`,
        );
      });
    assert.equal(await page.textContent('#status'), 'Playing the recording');
    await page.waitForFunction(
      () => !(document.querySelector('#seek') as HTMLInputElement).disabled,
    );
    const duration = await page.evaluate(
      () => (document.querySelector('video') as HTMLVideoElement).duration,
    );
    assert.ok(Math.abs(duration - LECTURE_SEC) <= 2, `the recording lasts ${duration} s`);

    // The viewer drags the seek bar to the middle (fill sends input and change, as a drag does).
    const target = duration / 2;
    await page.locator('#seek').fill(target.toFixed(1));
    await page.waitForFunction(
      (t) => {
        const v = document.querySelector('video') as HTMLVideoElement;
        return !v.seeking && v.currentTime >= t - 0.5;
      },
      target,
      { timeout: 15_000 },
    );
    const landed = await currentTime(page);
    assert.ok(Math.abs(landed - target) <= 1.5, `landed at ${landed} s for ${target} s`);
    await page.waitForFunction(
      (t) => (document.querySelector('video') as HTMLVideoElement).currentTime > t + 1,
      landed,
      {
        timeout: 10_000,
      },
    );
    assert.match((await page.textContent('#seek-label')) ?? '', /^0:\d\d \/ 0:1\d$/);
    await page.screenshot({ path: `${ARTIFACTS}/watch-recording.png` });
    assert.deepEqual(problems, []);
    await page.close();
  });
});

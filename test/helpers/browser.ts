import { type Browser, chromium } from 'playwright-core';

/** Headless Chromium from the system's packages (playwright-core downloads no browser). */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  // Playwright gives the browser a fresh temporary profile and removes it on close.
  const browser = await chromium.launch({
    executablePath: process.env.VTP_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  return { browser, close: () => browser.close() };
}

/** Chromium for the page tests: the Debian package (playwright cannot download browsers here). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Headless, loopback-only flags: no sandbox (root in CI), no background network traffic. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

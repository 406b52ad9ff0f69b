/** Launching Debian's Chromium through playwright-core with the flags this sandbox needs (no vitest here: benchmarks use it too). */
import { chromium, type Browser } from 'playwright-core';
import { ensureWebBuild } from './web-build.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Builds the dashboard if it is missing or older than its sources, then launches the browser. */
export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  await ensureWebBuild();
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

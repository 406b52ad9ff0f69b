/** Headless Chromium for the e2e tests (Debian's /usr/bin/chromium through playwright-core), and where screenshots go. */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { launchChromium } from './chromium.ts';
import { startTestServer, type TestServer, type TestServerOptions } from './server.ts';

export { CHROMIUM } from './chromium.ts';
export const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
/** how long a page may take to go live or to show what a test waits for */
export const LIVE_WAIT_MS = 15_000;

/** Builds the dashboard if needed and launches the browser with the flags this sandbox needs. */
export async function launchBrowser(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return launchChromium();
}

export interface OpenedPage {
  page: Page;
  /** uncaught errors of the page */
  errors: string[];
}

export interface DashboardOptions {
  /** view to open, e.g. `/gpus`; default `/` */
  path?: string;
  viewport?: { width: number; height: number };
  /** wait until the connection says "WebSocket live"; default true */
  live?: boolean;
}

export interface E2e {
  browser(): Browser;
  /** A fresh browser profile (no cookie), with uncaught page errors collected; closed after the test. */
  openPage(viewport?: { width: number; height: number }): Promise<OpenedPage>;
  /** A fresh profile signed in with the server's token (the cookie of `/?token=…`), at `path`. */
  openDashboard(s: Pick<TestServer, 'url' | 'token'>, opts?: DashboardOptions): Promise<OpenedPage>;
  /** startTestServer, closed after the file's tests. */
  serve(opts?: TestServerOptions): Promise<TestServer>;
}

/**
 * The browser lifecycle every e2e file shares: one browser per file, a fresh context per page (closed after
 * each test), servers closed after the file.
 */
export function useE2e(): E2e {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const servers: TestServer[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
  }, 120_000);
  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close();
  });
  afterAll(async () => {
    await browser?.close();
    for (const s of servers.splice(0)) await s.close();
  });

  const openPage = async (viewport = { width: 1280, height: 900 }): Promise<OpenedPage> => {
    const context = await browser!.newContext({ viewport });
    contexts.push(context);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    return { page, errors };
  };

  return {
    browser: () => browser!,
    openPage,
    async openDashboard(s, opts = {}) {
      const opened = await openPage(opts.viewport);
      // the login redirect sets the cookie; the context's request client shares the browser's cookies
      const login = await opened.page.context().request.get(`${s.url}/?token=${encodeURIComponent(s.token)}`, { maxRedirects: 0 });
      expect(login.status()).toBe(302);
      await opened.page.goto(`${s.url}${opts.path ?? '/'}`);
      if (opts.live !== false) {
        await expect.poll(() => opened.page.getByTestId('connection').textContent(), { timeout: LIVE_WAIT_MS, interval: 100 }).toContain('WebSocket live');
      }
      return opened;
    },
    async serve(opts = {}) {
      const s = await startTestServer(opts);
      servers.push(s);
      return s;
    },
  };
}

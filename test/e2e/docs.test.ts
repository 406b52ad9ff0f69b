/**
 * The API page (/docs) in headless Chromium against a real server: RapiDoc renders the whole OpenAPI document inside
 * its shadow DOM, "try" calls carry the signed-in browser's cookie, and nothing is fetched from another host.
 * Screenshots go to test/artifacts/.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.ts';
import { ARTIFACTS, LIVE_WAIT_MS, useE2e } from '../helpers/browser.ts';

const e2e = useE2e();
let server: TestServer | undefined;

beforeAll(async () => {
  server = await e2e.serve();
}, 120_000);

/** Every http(s) URL the page asks for, from the first navigation on. */
function recordRequests(page: Page): URL[] {
  const seen: URL[] = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol === 'http:' || u.protocol === 'https:') seen.push(u);
  });
  return seen;
}

/** An operation's path as RapiDoc shows it, inside its shadow root (playwright's locators pierce open shadow roots). */
const operation = (page: Page, path: string) => page.locator('rapi-doc').getByText(path, { exact: true }).first();

describe('API page (e2e)', () => {
  it('renders the operations of the document for a signed-in browser, fetching only from this server', async () => {
    const { url, token } = server!;
    const { page, errors } = await e2e.openPage();
    const requests = recordRequests(page);

    await page.goto(`${url}/docs?token=${encodeURIComponent(token)}`);
    // the server set the cookie and redirected to the page without the token
    expect(new URL(page.url()).pathname).toBe('/docs');
    expect(new URL(page.url()).searchParams.has('token')).toBe(false);

    await operation(page, '/api/requests').waitFor({ timeout: LIVE_WAIT_MS });
    await operation(page, '/api/workers').waitFor({ timeout: LIVE_WAIT_MS });
    // and every other path of the document (the context's request client shares the browser's cookie)
    const doc = (await (await page.context().request.get(`${url}/api/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).length).toBeGreaterThan(40);
    for (const path of Object.keys(doc.paths)) await operation(page, path).waitFor({ timeout: 2000 });
    // rendered by the component, not written into the page
    expect(await page.locator('body').innerText()).not.toContain('/api/requests');
    expect(await page.locator('rapi-doc').evaluate((el) => el.shadowRoot !== null)).toBe(true);

    // "try" on GET /api/status: the browser's cookie carries the token
    await operation(page, '/api/status').click();
    const answer = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/status', { timeout: LIVE_WAIT_MS });
    await page.locator('rapi-doc').getByRole('button', { name: 'TRY' }).first().click();
    expect((await answer).status()).toBe(200);
    await page.locator('rapi-doc').getByText(/OK:\s*200/).first().waitFor({ timeout: LIVE_WAIT_MS });
    await page.screenshot({ path: `${ARTIFACTS}docs-light.png` });

    const local = new URL(url);
    const paths = requests.map((u) => u.pathname);
    expect(paths).toEqual(expect.arrayContaining(['/docs', '/docs/theme.js', '/docs/rapidoc-min.js', '/api/openapi.json', '/api/status']));
    for (const u of requests) expect(u.host, u.href).toBe(local.host);
    expect(local.hostname).toBe('127.0.0.1');
    expect(errors).toEqual([]);
  });

  it('follows the light or dark scheme, with the dashboard\'s colours', async () => {
    const { url, token } = server!;
    const { page, errors } = await e2e.openPage();
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${url}/docs?token=${encodeURIComponent(token)}`);
    await operation(page, '/api/workers').waitFor({ timeout: LIVE_WAIT_MS });
    const doc = page.locator('rapi-doc');
    expect(await doc.getAttribute('theme')).toBe('dark');
    expect(await doc.getAttribute('bg-color')).toBe('#111418');
    await page.screenshot({ path: `${ARTIFACTS}docs-dark.png` });

    await page.emulateMedia({ colorScheme: 'light' });
    await expect.poll(() => doc.getAttribute('theme')).toBe('light');
    expect(await doc.getAttribute('bg-color')).toBe('#ffffff');
    expect(errors).toEqual([]);
  });

  it('tells a browser without the token how to sign in, and shows the document\'s 401', async () => {
    const { page, errors } = await e2e.openPage();
    const requests = recordRequests(page);
    await page.goto(`${server!.url}/docs`);
    expect(await page.getByTestId('docs-auth').textContent()).toContain('/docs?token=<token>');
    await page.locator('rapi-doc').getByText(/401/).first().waitFor({ timeout: LIVE_WAIT_MS });
    expect(await operation(page, '/api/requests').count()).toBe(0);
    for (const u of requests) expect(u.host, u.href).toBe(new URL(server!.url).host);
    expect(errors).toEqual([]);
  });
});

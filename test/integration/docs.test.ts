/** GET /docs: the interactive API page and its scripts, served by a real server from the installed package. */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { ensureWebBuild } from '../helpers/web-build.ts';

const RAPIDOC_JS = createRequire(import.meta.url).resolve('rapidoc/dist/rapidoc-min.js');

let s: TestServer;
let open: TestServer;
beforeAll(async () => {
  // the dashboard's bundle, so that its index.html fallback is live and can be seen not to answer for /docs
  await ensureWebBuild();
  s = await startTestServer();
  open = await startTestServer({ configure: (c) => { c.auth = false; } });
}, 120_000);
afterAll(async () => {
  await s?.close();
  await open?.close();
});

const get = (path: string, headers: Record<string, string> = {}, server = s) => fetch(`${server.url}${path}`, { headers, redirect: 'manual' });

/** The URLs the page loads: every script's src, every link's href. */
function loadedUrls(html: string): string[] {
  return [...html.matchAll(/<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
}

describe('GET /docs', () => {
  it('answers the page without a token, at /docs and /docs/', async () => {
    for (const path of ['/docs', '/docs/']) {
      const r = await get(path, { Accept: 'text/html' });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/html/);
      expect(r.headers.get('cache-control')).toBe('no-cache');
      const html = await r.text();
      expect(html).toMatch(/<rapi-doc\b[^>]*\sspec-url="\/api\/openapi\.json"/);
      expect(html).toMatch(/<rapi-doc\b[^>]*\sallow-authentication="true"/);
      // no web fonts from Google: RapiDoc loads them unless told not to
      expect(html).toMatch(/<rapi-doc\b[^>]*\sload-fonts="false"/);
      expect(html).not.toContain('<div id="root">');
    }
  });

  it('loads nothing from another host: its scripts are this server\'s, no inline script, no remote stylesheet or font', async () => {
    const html = await (await get('/docs')).text();
    const urls = loadedUrls(html);
    expect(urls).toContain('/docs/theme.js');
    expect(urls.some((u) => /^\/docs\/rapidoc-min\.js\?v=\d+\.\d+\.\d+$/.test(u))).toBe(true);
    for (const u of urls) expect(u).toMatch(/^(\/(?!\/)|data:)/);
    expect(html).not.toMatch(/<script\b(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/@import|url\(\s*['"]?(https?:)?\/\//);
    expect(html).not.toMatch(/<link\b[^>]*rel="stylesheet"/);
  });

  it('says how to give the token, and that none is needed when the server asks for none', async () => {
    expect(await (await get('/docs')).text()).toContain('/docs?token=&lt;token&gt;');
    const noAuth = await (await get('/docs', {}, open)).text();
    expect(noAuth).toContain('This server asks for no token.');
    expect(noAuth).not.toContain('/docs?token=');
  });

  it('signs in with /docs?token=… as / does: the cookie, then the page without the token; the document needs it', async () => {
    expect((await get('/api/openapi.json')).status).toBe(401);

    const login = await get(`/docs?token=${encodeURIComponent(s.token)}`);
    expect(login.status).toBe(302);
    expect(login.headers.get('location')).toBe('/docs');
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^arbiter_token=[^;]+; HttpOnly; SameSite=Strict; Path=\//);

    const doc = await get('/api/openapi.json', { Cookie: cookie.split(';')[0]! });
    expect(doc.status).toBe(200);
    expect(((await doc.json()) as { paths: Record<string, unknown> }).paths).toHaveProperty('/api/requests');

    // a wrong token sets nothing and the page is served as to anyone
    const wrong = await get('/docs?token=nope');
    expect(wrong.status).toBe(200);
    expect(wrong.headers.get('set-cookie')).toBeNull();
  });
});

describe('GET /docs/rapidoc-min.js', () => {
  const size = statSync(RAPIDOC_JS).size;

  it('serves the installed RapiDoc as JavaScript with a long cache, gzipped when the client takes gzip', async () => {
    const plain = await get('/docs/rapidoc-min.js', { 'Accept-Encoding': 'identity' });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(plain.headers.get('vary')).toMatch(/Accept-Encoding/i);
    expect(Number(plain.headers.get('content-length'))).toBe(size);
    const body = await plain.text();
    expect(body).toBe(readFileSync(RAPIDOC_JS, 'utf8'));
    expect(body).toContain('rapi-doc');

    const gzipped = await get('/docs/rapidoc-min.js', { 'Accept-Encoding': 'gzip' });
    expect(gzipped.status).toBe(200);
    expect(gzipped.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(gzipped.headers.get('content-encoding')).toBe('gzip');
    expect(Number(gzipped.headers.get('content-length'))).toBeLessThan(size / 2);
    // fetch decodes it: the same script
    expect(await gzipped.text()).toBe(body);
  });

  it('serves the URL the page names, and the theme script, as JavaScript', async () => {
    const html = await (await get('/docs')).text();
    for (const src of loadedUrls(html).filter((u) => u.endsWith('.js') || u.includes('.js?'))) {
      const r = await get(src);
      expect(r.status, src).toBe(200);
      expect(r.headers.get('content-type'), src).toMatch(/^text\/javascript/);
    }
    expect(await (await get('/docs/theme.js')).text()).toContain("matchMedia('(prefers-color-scheme: dark)')");
  });
});

describe('the dashboard fallback', () => {
  it('answers its client routes with index.html, but not paths under /docs', async () => {
    const view = await get('/workers', { Accept: 'text/html' });
    expect(view.status).toBe(200);
    expect(await view.text()).toContain('<div id="root">');

    const other = await get('/docs/nothing-here', { Accept: 'text/html' });
    expect(other.status).toBe(404);
    expect(await other.text()).not.toContain('<div id="root">');
  });
});

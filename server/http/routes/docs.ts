import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Router } from 'express';
import type { Auth } from '../auth.ts';
import { docsPage, THEME_SCRIPT } from '../docs-page.ts';
import { packagePath } from '../../paths.ts';

/**
 * RapiDoc's package: the installed one (a checkout, where it is a devDependency), else the copy of its files that
 * `npm run build` puts in dist/docs/rapidoc (the npm package, which installs no devDependency).
 */
function rapidocDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('rapidoc/package.json'));
  } catch {
    return packagePath('dist', 'docs', 'rapidoc');
  }
}
const RAPIDOC = rapidocDir();
/** RapiDoc's bundle: one self-contained file (its dependencies are compiled in) */
const RAPIDOC_JS = join(RAPIDOC, 'dist', 'rapidoc-min.js');
/** the same, gzipped by its publisher: a quarter of the size */
const RAPIDOC_JS_GZ = `${RAPIDOC_JS}.gz`;
const RAPIDOC_VERSION = (JSON.parse(readFileSync(join(RAPIDOC, 'package.json'), 'utf8')) as { version: string }).version;

const JS = 'text/javascript; charset=utf-8';
/** the page names the bundle with RapiDoc's version, so a cached copy never outlives its version */
const ONE_YEAR = { maxAge: '365d', immutable: true } as const;

/**
 * GET /docs: the interactive API page over /api/openapi.json, and its scripts. The page holds no data and needs no
 * token; `/docs?token=…` signs in the way `/?token=…` does, because the document and the calls tried need one.
 */
export function docsRoutes(auth: Pick<Auth, 'enabled' | 'loginRedirect'>): Router {
  const r = Router();
  const page = docsPage({ auth: auth.enabled, rapidocVersion: RAPIDOC_VERSION });
  const hasGzip = existsSync(RAPIDOC_JS_GZ);

  r.get('/docs', auth.loginRedirect(), (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('html').send(page);
  });
  r.get('/docs/theme.js', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type(JS).send(THEME_SCRIPT);
  });
  r.get('/docs/rapidoc-min.js', (req, res, next) => {
    res.vary('Accept-Encoding');
    const gzip = hasGzip && req.acceptsEncodings('gzip') === 'gzip';
    const headers = { 'Content-Type': JS, ...(gzip ? { 'Content-Encoding': 'gzip' } : {}) };
    res.sendFile(gzip ? RAPIDOC_JS_GZ : RAPIDOC_JS, { ...ONE_YEAR, headers }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  });
  return r;
}

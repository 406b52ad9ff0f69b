/** The dashboard: the built bundle in dist/web, with index.html for client-side routes. Static files hold no data. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { Router } from 'express';
import { packagePath } from '../paths.ts';

export const WEB_DIST = `${packagePath('dist', 'web')}/`;

export function webBundleExists(dir = WEB_DIST): boolean {
  return existsSync(join(dir, 'index.html'));
}

export function staticRoutes(dir = WEB_DIST): Router {
  const r = Router();
  r.use(express.static(dir, { index: 'index.html', maxAge: '1h', setHeaders: (res, path) => {
    if (path.endsWith('index.html')) res.setHeader('Cache-Control', 'no-cache');
  } }));
  // never for the API, the push, the metrics, the API page (/docs), or the task dispatch routes (/ti, /queue, /task, /notify, /health)
  r.get(/^\/(?!api\/|api$|socket\.io|metrics|health$|(?:docs|ti|queue|task|notify)(?:\/|$)).*/, (req, res, next) => {
    if (!webBundleExists(dir) || !req.accepts('html')) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(join(dir, 'index.html'));
  });
  return r;
}

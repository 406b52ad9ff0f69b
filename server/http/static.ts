/** The dashboard: the built bundle in dist/web, with index.html for client-side routes. Static files hold no data. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { Router, type RequestHandler } from 'express';
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
  r.get(/^\/(?!api\/|api$|socket\.io|metrics|health$|(?:docs|ti|queue|task|notify)(?:\/|$)).*/, dashboardPage(dir, 'html'));
  return r;
}

/**
 * The dashboard's index.html for a client-side route, when the client takes HTML (`accepts`: any HTML; `prefers`:
 * only when it prefers HTML to JSON — a browser opening the page, not an API client that accepts anything, for
 * paths that are both a view and an API route, like /workflows).
 */
export function dashboardPage(dir = WEB_DIST, when: 'html' | 'prefers-html' = 'html'): RequestHandler {
  return (req, res, next) => {
    const wants = when === 'html' ? req.accepts('html') : req.method === 'GET' && req.accepts(['json', 'html']) === 'html';
    if (!wants || !webBundleExists(dir)) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(join(dir, 'index.html'));
  };
}

/** Builds the dashboard bundle (dist/web) when it is missing or older than its sources, once per process. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newestMtime } from '../../bin/build.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
export const WEB_DIST_INDEX = join(repo, 'dist/web/index.html');
const SOURCES = [join(repo, 'web'), join(repo, 'shared'), join(repo, 'vite.config.ts')];

let building: Promise<void> | undefined;

export function webBuildIsFresh(): boolean {
  if (!existsSync(WEB_DIST_INDEX)) return false;
  const built = statSync(WEB_DIST_INDEX).mtimeMs;
  return SOURCES.every((s) => newestMtime(s) <= built);
}

export function ensureWebBuild(): Promise<void> {
  building ??= (async () => {
    if (webBuildIsFresh()) return;
    const { build } = await import('vite');
    // vitest sets NODE_ENV=test, which would make vite bundle React's development build
    const nodeEnv = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      await build({ configFile: join(repo, 'vite.config.ts'), mode: 'production', logLevel: 'warn' });
    } finally {
      if (nodeEnv === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = nodeEnv;
    }
    if (!existsSync(WEB_DIST_INDEX)) throw new Error(`vite build wrote no ${WEB_DIST_INDEX}`);
  })();
  return building;
}

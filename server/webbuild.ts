/** `npm start` builds the dashboard bundle when it is missing, so a fresh checkout needs no separate build step. */
import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { WEB_DIST, webBundleExists } from './http/static.ts';

/** The package's root: where package.json really is (the compiled server in dist/node reaches it through a link). */
const ROOT = dirname(realpathSync(new URL('../package.json', import.meta.url)));

export async function ensureWebBundle(say: (msg: string) => void): Promise<void> {
  if (webBundleExists()) return;
  say('arbiter: building the dashboard (first start)…');
  try {
    const { build } = await import('vite');
    await build({ configFile: join(ROOT, 'vite.config.ts'), logLevel: 'warn' });
  } catch (err) {
    say(`arbiter: dashboard build failed (${(err as Error).message.split('\n')[0]}); serving the API only`);
    return;
  }
  if (!webBundleExists()) say(`arbiter: dashboard build produced no ${WEB_DIST}index.html; serving the API only`);
}

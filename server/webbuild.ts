/** `npm start` builds the dashboard bundle when it is missing, so a fresh checkout needs no separate build step. */
import { fileURLToPath } from 'node:url';
import { WEB_DIST, webBundleExists } from './http/static.ts';

export async function ensureWebBundle(say: (msg: string) => void): Promise<void> {
  if (webBundleExists()) return;
  say('arbiter: building the dashboard (first start)…');
  try {
    const { build } = await import('vite');
    await build({ configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)), logLevel: 'warn' });
  } catch (err) {
    say(`arbiter: dashboard build failed (${(err as Error).message.split('\n')[0]}); serving the API only`);
    return;
  }
  if (!webBundleExists()) say(`arbiter: dashboard build produced no ${WEB_DIST}index.html; serving the API only`);
}

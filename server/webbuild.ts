/** `npm start` builds the dashboard bundle when it is missing, so a fresh checkout needs no separate build step. */
import { WEB_DIST, webBundleExists } from './http/static.ts';
import { packagePath } from './paths.ts';

export async function ensureWebBundle(say: (msg: string) => void): Promise<void> {
  if (webBundleExists()) return;
  say('arbiter: building the dashboard (first start)…');
  try {
    const { build } = await import('vite');
    await build({ configFile: packagePath('vite.config.ts'), logLevel: 'warn' });
  } catch (err) {
    say(`arbiter: dashboard build failed (${(err as Error).message.split('\n')[0]}); serving the API only`);
    return;
  }
  if (!webBundleExists()) say(`arbiter: dashboard build produced no ${WEB_DIST}index.html; serving the API only`);
}

/**
 * `node --import tsx --import ./bench/compiled.ts bench/<name>.ts`: the benchmark's own code runs through tsx, the
 * server's modules (server/, shared/) from the compiled build in dist/node, as `npm start` runs them (source maps on,
 * as bin/arbiter.js has them). The build is compiled first when it is missing or stale.
 * With ARBITER_BENCH_SOURCES=1 this does nothing: the TypeScript sources run through tsx, to compare.
 */
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { ensureServerBuild, SERVER_BUILD } from '../bin/build.js';
import type { CompiledModules } from './compiled-hooks.ts';

if (process.env.ARBITER_BENCH_SOURCES !== '1') {
  await ensureServerBuild((msg) => process.stderr.write(`${msg}\n`));
  process.setSourceMapsEnabled(true);
  const data: CompiledModules = { root: new URL('../', import.meta.url).href, build: pathToFileURL(`${SERVER_BUILD}/`).href };
  register('./compiled-hooks.ts', { parentURL: import.meta.url, data });
}

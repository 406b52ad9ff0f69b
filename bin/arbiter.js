#!/usr/bin/env node
// The `arbiter` command: runs the compiled server (dist/node), compiling server/ and shared/ first when that build is
// missing or older than its sources (bin/build.js), with source maps so that stack traces name the .ts files and lines.
import { ensureServerBuild, SERVER_MAIN } from './build.js';

try {
  await ensureServerBuild((msg) => process.stderr.write(`${msg}\n`));
} catch (err) {
  process.stderr.write(`arbiter: could not compile the server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
process.setSourceMapsEnabled(true);
await import(SERVER_MAIN);

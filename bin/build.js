/**
 * The server's build: TypeScript's compiler (tsconfig.server.json) emits server/ and shared/ as JavaScript, with
 * source maps, into dist/node. `ensureServerBuild` compiles when the build is missing or older than one of its
 * sources, so a `git pull` never runs stale code; `node bin/build.js` (part of `npm run build`) compiles always.
 * The compiled modules find the package's own files (package.json, dist/web) through server/paths.ts, from
 * wherever they run.
 *
 * A build is written into a directory of its own and renamed into place, under a lock file, so that processes
 * starting together (parallel tests, two starts) compile once and none runs from a half-written build.
 *
 * The npm package (`npm pack`, whose prepack runs `npm run build`) carries the build and not its sources: installed,
 * it runs the build it was packed with and never compiles (its devDependencies, the compiler among them, are not
 * installed). `npm run build` also copies the API page's script (RapiDoc, a devDependency) into dist/docs for it.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');
/** The compiled server and shared modules, at the paths of their sources: dist/node/server/…, dist/node/shared/… */
export const SERVER_BUILD = join(DIST, 'node');
/** The compiled CLI, what `arbiter` runs. */
export const SERVER_MAIN = pathToFileURL(join(SERVER_BUILD, 'server/main.js')).href;
const TSCONFIG = join(ROOT, 'tsconfig.server.json');
/** What the build is made of: a newer file, or a newer directory (a file added, renamed or removed), makes it stale. */
const SOURCES = ['server', 'shared', 'tsconfig.json', 'tsconfig.server.json', 'bin/build.js'].map((p) => join(ROOT, p));
/** Written last; its mtime is when the compile started, so that a source saved during the compile counts as newer. */
const STAMP = '.built';
const LOCK = join(DIST, 'node.lock');
/** A lock older than this is left over, whoever holds it (a reused pid). */
const LOCK_MAX_AGE_MS = 10 * 60_000;
/** Installed from the npm package: the build without its sources. */
const PACKED = !existsSync(join(ROOT, 'server'));
/** Where `npm run build` copies RapiDoc (its package.json, licence and bundle) for the npm package. */
export const DOCS_ASSETS = join(DIST, 'docs', 'rapidoc');

/**
 * The newest mtime of a file, or of a directory and everything below it (a directory's own mtime changes when an
 * entry is added, renamed or removed); 0 when it does not exist.
 * @param {string} path
 */
export function newestMtime(path) {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const e of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, e)));
  return newest;
}

/** The build exists and no source is newer than it. */
export function serverBuildIsFresh() {
  const stamp = statSync(join(SERVER_BUILD, STAMP), { throwIfNoEntry: false });
  return stamp !== undefined && SOURCES.every((s) => newestMtime(s) <= stamp.mtimeMs);
}

/** Remove what interrupted compiles left behind (a killed start's compiler may still be writing: again afterwards). */
function removeLeftovers() {
  for (const e of readdirSync(DIST)) if (e.startsWith('node-')) rmSync(join(DIST, e), { recursive: true, force: true });
}

/** Compile into a new directory and rename it into place. The caller holds the lock. */
function compile() {
  const started = new Date();
  mkdirSync(DIST, { recursive: true });
  removeLeftovers();
  const out = mkdtempSync(join(DIST, 'node-'));
  chmodSync(out, 0o755); // mkdtemp's 0700 would keep other users from running it
  const old = `${out}-old`;
  try {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    // the compiler's diagnostics go to stderr: stdout is the CLI's (`arbiter simulate` prints its table there)
    const r = spawnSync(process.execPath, [tsc, '-p', TSCONFIG, '--outDir', out], { stdio: ['ignore', 2, 2] });
    if (r.status !== 0) throw new Error(`tsc -p tsconfig.server.json failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
    writeFileSync(join(out, STAMP), '');
    utimesSync(join(out, STAMP), started, started);
    if (existsSync(SERVER_BUILD)) renameSync(SERVER_BUILD, old);
    try {
      renameSync(out, SERVER_BUILD);
    } catch (err) {
      if (!existsSync(SERVER_BUILD)) throw err; // else another compile landed first: that one serves
    }
  } finally {
    removeLeftovers();
  }
}

/** Whether the lock is held by a live process (or is being written right now). */
function lockIsHeld() {
  try {
    const st = statSync(LOCK);
    if (Date.now() - st.mtimeMs > LOCK_MAX_AGE_MS) return false;
    const pid = Number(readFileSync(LOCK, 'utf8'));
    if (!pid) return true;
    process.kill(pid, 0);
    return true;
  } catch (err) {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code;
    // EPERM: alive, another user's; ENOENT: released just now, so not ours to remove: try again
    return code === 'EPERM' || code === 'ENOENT';
  }
}

/**
 * Run `fn` holding dist/node.lock; waits while a live process holds it.
 * @template T
 * @param {() => T} fn
 * @returns {Promise<T>}
 */
async function withLock(fn) {
  mkdirSync(DIST, { recursive: true });
  for (;;) {
    try {
      const fd = openSync(LOCK, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'EEXIST') throw err;
      if (lockIsHeld()) await new Promise((r) => setTimeout(r, 100));
      else rmSync(LOCK, { force: true });
    }
  }
  try {
    return fn();
  } finally {
    rmSync(LOCK, { force: true });
  }
}

/**
 * Compile the server when its build is missing or stale; says so first (it takes a few seconds).
 * @param {(msg: string) => void} say
 */
export async function ensureServerBuild(say) {
  if (PACKED) {
    if (existsSync(join(SERVER_BUILD, STAMP))) return;
    throw new Error(`this installation has no compiled server in ${SERVER_BUILD}: install the package again`);
  }
  if (serverBuildIsFresh()) return;
  await withLock(() => {
    if (serverBuildIsFresh()) return; // another process compiled it while this one waited
    say(`arbiter: compiling the server (${existsSync(SERVER_BUILD) ? 'its sources changed' : 'first start'})…`);
    compile();
  });
}

/** Compile the server now, whether or not the build is fresh. */
export async function buildServer() {
  await withLock(compile);
}

/** Copy the files of RapiDoc that GET /docs serves into dist/docs/rapidoc, as they lie in its package. */
export function copyDocsAssets() {
  const from = dirname(createRequire(import.meta.url).resolve('rapidoc/package.json'));
  rmSync(DOCS_ASSETS, { recursive: true, force: true });
  mkdirSync(join(DOCS_ASSETS, 'dist'), { recursive: true });
  for (const f of ['package.json', 'LICENSE.txt', 'dist/rapidoc-min.js', 'dist/rapidoc-min.js.gz', 'dist/rapidoc-min.js.LICENSE.txt']) {
    if (existsSync(join(from, f))) copyFileSync(join(from, f), join(DOCS_ASSETS, f));
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.stderr.write(`arbiter: compiling the server into ${SERVER_BUILD}…\n`);
    await buildServer();
    copyDocsAssets();
  } catch (err) {
    process.stderr.write(`arbiter: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

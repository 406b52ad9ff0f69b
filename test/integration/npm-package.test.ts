/**
 * The npm package as a user gets it: `npm pack` (its prepack builds dist/) in a copy of the repository, so the
 * repository's own build is left alone; `npm install -g` of the tarball into a temporary prefix, which installs the
 * production dependencies and none of the devDependencies; then `<prefix>/bin/arbiter serve` answers /api/health,
 * the dashboard and the API page, running the build it was packed with.
 *
 * One step differs from a user's install: better-sqlite3's install script (prebuild-install, else a compile from
 * source: about 2 minutes on this machine, where no prebuilt binary can be fetched) is skipped, and the addon that
 * `npm ci` compiled for the same version and Node is copied in instead; when the versions differ, it is compiled.
 */
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exited, freePort } from '../helpers/cli-server.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'arbiter-package-'));
const src = join(root, 'src');
const prefix = join(root, 'prefix');
const installed = join(prefix, 'lib/node_modules/arbiter');
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
let tarball = '';
let files: string[] = [];

/** Run a command to its end; fails the test with its output when it does not exit 0. */
function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} → ${r.status ?? r.signal}\n${String(r.stdout)}\n${String(r.stderr)}`);
  return String(r.stdout);
}

const versionOf = (dir: string) => (JSON.parse(readFileSync(join(dir, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string }).version;

beforeAll(() => {
  mkdirSync(src);
  for (const p of ['package.json', 'README.md', 'LICENSE', 'bin', 'server', 'shared', 'web', 'clients', 'examples', 'tsconfig.json', 'tsconfig.server.json', 'vite.config.ts']) {
    cpSync(join(REPO, p), join(src, p), { recursive: true });
  }
  symlinkSync(join(REPO, 'node_modules'), join(src, 'node_modules'));
  const packed = join(root, 'packed');
  mkdirSync(packed);
  run('npm', ['pack', '--pack-destination', packed, '--loglevel', 'warn'], { cwd: src });
  tarball = join(packed, readdirSync(packed).find((f) => f.endsWith('.tgz'))!);
  files = run('tar', ['-tzf', tarball]).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));

  // the npm cache is warm after `npm ci`: --prefer-offline takes what it holds without asking the registry again
  run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel', 'warn', tarball], { cwd: root });
  const addon = 'build/Release/better_sqlite3.node';
  if (versionOf(installed) === versionOf(REPO)) {
    mkdirSync(join(installed, 'node_modules/better-sqlite3/build/Release'), { recursive: true });
    copyFileSync(join(REPO, 'node_modules/better-sqlite3', addon), join(installed, 'node_modules/better-sqlite3', addon));
  } else {
    run('npm', ['rebuild', 'better-sqlite3', '--foreground-scripts=false'], { cwd: installed });
  }
}, 400_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('npm pack', () => {
  it('holds what runs: the compiled server, the dashboard, the API page, bin, the python clients, examples, README, LICENSE', () => {
    for (const f of ['package.json', 'README.md', 'LICENSE', 'bin/arbiter.js', 'bin/build.js', 'dist/node/.built', 'dist/node/server/main.js', 'dist/node/shared/events.js',
      'dist/web/index.html', 'dist/docs/rapidoc/package.json', 'dist/docs/rapidoc/dist/rapidoc-min.js', 'clients/python/arbiter_worker/__main__.py',
      'clients/python/arbiter_client/__init__.py', 'examples/arbiter.service', 'examples/config.yaml']) {
      expect(files, f).toContain(f);
    }
  });

  it('holds no sources, tests, benchmarks, fixtures, source maps or screenshots', () => {
    const stray = files.filter((f) => /^(server|shared|web|test|bench|clients\/typescript|clients\/python\/tests|\.ci)\//.test(f) || (/\.(map|ts|tsx|png)$/.test(f) && !f.endsWith('.d.ts') && !f.startsWith('examples/')) || f.includes('__pycache__'));
    expect(stray).toEqual([]);
  });
});

describe('npm install -g of the package', () => {
  it('installs the production dependencies and none of the devDependencies', () => {
    for (const name of Object.keys(pkg.dependencies)) expect(existsSync(join(installed, 'node_modules', name)), name).toBe(true);
    // type packages excepted: some dependencies bring their own (@types/node, @types/ws)
    const dev = Object.keys(pkg.devDependencies).filter((name) => !name.startsWith('@types/') && existsSync(join(installed, 'node_modules', name)));
    expect(dev).toEqual([]);
  });

  it('serves /api/health, the dashboard and the API page from the build it was packed with', async () => {
    const port = await freePort();
    const dataDir = join(root, 'data');
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ARBITER_') && v !== undefined) env[k] = v;
    const child = spawn(join(prefix, 'bin/arbiter'), ['serve', '--port', String(port), '--data-dir', dataDir, '--no-gpu', '--no-docker', '--log-level', 'warn'], { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    try {
      const token = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (c: string) => {
          out += c;
          const m = /Dashboard: http:\/\/127\.0\.0\.1:\d+\/\?token=(\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.on('exit', (code) => reject(new Error(`arbiter exited (${code}): ${out}${err}`)));
      });
      const base = `http://127.0.0.1:${port}`;
      const health = await fetch(`${base}/api/health`, { headers: { Authorization: `Bearer ${token}` } });
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok', version: (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version });

      const page = await fetch(`${base}/`, { headers: { Accept: 'text/html' } });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await page.text()).toContain('<div id="root">');

      const docs = await fetch(`${base}/docs`);
      expect(await docs.text()).toContain('<rapi-doc');
      const script = await fetch(`${base}/docs/rapidoc-min.js`);
      expect(script.status).toBe(200);
      expect((await script.text()).length).toBeGreaterThan(100_000);

      // nothing compiled or built at start: the package holds no compiler and no bundler
      expect(err).not.toMatch(/compiling|building the dashboard/);
      child.kill('SIGTERM');
      await exited(child);
      expect(child.exitCode).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 60_000);
});

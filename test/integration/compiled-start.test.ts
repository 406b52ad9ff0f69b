/**
 * The compiled start: bin/arbiter.js compiles server/ and shared/ (bin/build.js) when that build is missing or older
 * than its sources, runs the compiled JavaScript, not tsx, and its stack traces name the .ts files and lines.
 * Runs in a copy of the repository (its own dist/, so the repository's build is left alone) whose node_modules holds
 * every installed package but tsx.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureServerBuild } from '../../bin/build.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'arbiter-compiled-'));
const BIN = join(root, 'bin/arbiter.js');
const env = { ...process.env, ARBITER_NO_WEB_BUILD: '1', ARBITER_LOG_LEVEL: 'warn' };
const arbiter = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env });

beforeAll(() => {
  for (const p of ['bin', 'server', 'shared', 'package.json', 'tsconfig.json', 'tsconfig.server.json']) cpSync(join(REPO, p), join(root, p), { recursive: true });
  mkdirSync(join(root, 'node_modules'));
  for (const name of readdirSync(join(REPO, 'node_modules'))) {
    if (name !== 'tsx' && name !== '.bin') symlinkSync(join(REPO, 'node_modules', name), join(root, 'node_modules', name));
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('compiled start', () => {
  it('compiles the server on first start and serves from the compiled build, where tsx cannot be loaded', async () => {
    expect(() => createRequire(BIN).resolve('tsx')).toThrow();
    expect(existsSync(join(root, 'dist/node'))).toBe(false);
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', join(root, 'data')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const [base, token] = await new Promise<[string, string]>((resolve, reject) => {
      child.stdout.on('data', (c: string) => {
        out += c;
        const m = /Dashboard: (http:\/\/127\.0\.0\.1:\d+)\/\?token=(\S+)/.exec(out);
        if (m) resolve([m[1]!, m[2]!]);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}${err}`)));
    });
    expect((await fetch(`${base}/api/status`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    expect(err).toContain('arbiter: compiling the server (first start)');
    expect(existsSync(join(root, 'dist/node/server/main.js'))).toBe(true);
    child.kill('SIGTERM');
    expect(await new Promise<number | null>((r) => child.on('exit', (c) => r(c)))).toBe(0);
  }, 120_000);

  it('compiles again when a source is newer than the build or one was removed, and runs the new code', () => {
    expect(arbiter(['--version']).stderr).toBe('');
    const main = join(root, 'server/main.ts');
    writeFileSync(main, `process.stdout.write('edited\\n');\n${readFileSync(main, 'utf8')}`);
    writeFileSync(join(root, 'shared/added.ts'), 'export const added = 1;\n');
    const r = arbiter(['--version']);
    expect(r.stderr).toBe('arbiter: compiling the server (its sources changed)…\n');
    expect(r.stdout).toMatch(/^edited\n\d+\.\d+\.\d+\n$/);
    expect(existsSync(join(root, 'dist/node/shared/added.js'))).toBe(true);
    // a removed file leaves only its directory newer: compiled again, without it
    rmSync(join(root, 'shared/added.ts'));
    expect(arbiter(['--version']).stderr).toBe('arbiter: compiling the server (its sources changed)…\n');
    expect(existsSync(join(root, 'dist/node/shared/added.js'))).toBe(false);
    expect(arbiter(['--version']).stderr).toBe('');
  }, 120_000);

  it('names the .ts file and line in the stack trace of an error the server throws', () => {
    const file = join(root, 'not-a-directory');
    writeFileSync(file, '');
    const r = arbiter(['serve', '--port', '0', '--data-dir', join(file, 'data')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('ENOTDIR');
    // the first frame in Arbiter's code is the line that called mkdirSync
    const frame = /\((\/[^()]+\/(?:server|shared)\/[^()]+\.ts):(\d+):\d+\)/.exec(r.stderr);
    expect(frame, r.stderr).not.toBeNull();
    expect(readFileSync(frame![1]!, 'utf8').split('\n')[Number(frame![2]) - 1]).toContain('mkdirSync');
    expect(r.stderr).not.toMatch(/dist\/node\/\S+\.js/);
  }, 60_000);

  it('prints from `arbiter simulate` what the TypeScript sources print, but for the wall times', async () => {
    await ensureServerBuild(() => {});
    // 80 pods on one node: the queue is contended, so the strategies differ
    const pods = Array.from({ length: 80 }, (_, i) => `p${i},${4000 + (i % 3) * 4000},${8192 * (1 + (i % 4))},${i % 5 === 0 ? 0 : 1 + (i % 3)},${i % 7 === 0 ? 500 : 1000},,LS,Running,${i * 60},${i * 60 + 300 + (i % 5) * 300},${i * 60}`);
    const trace = join(root, 'pods.csv');
    writeFileSync(trace, `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n${pods.join('\n')}\n`);
    const simulate = (cli: string[], json: string[]) => {
      const r = spawnSync(process.execPath, [...cli, 'simulate', '--trace', trace, '--nodes', '1', ...json], { encoding: 'utf8', cwd: REPO });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.replace(/"wallMs": [\d.e+-]+/g, '"wallMs": 0').replace(/^\| (\w+) \| [\d.]+ m?s \|/gm, '| $1 | 0 |');
    };
    for (const json of [[], ['--json']]) {
      const compiled = simulate([join(REPO, 'bin/arbiter.js')], json);
      expect(compiled).toMatch(json.length ? /"strategy": "hybrid"/ : /^\| hybrid \| 0 \| 80 \|/m);
      expect(compiled).toBe(simulate(['--import', 'tsx', join(REPO, 'server/main.ts')], json));
    }
  }, 90_000);
});

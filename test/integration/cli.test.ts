import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureServerBuild } from '../../bin/build.js';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { startTestServer } from '../helpers/server.ts';
import { openSse } from '../helpers/sse.ts';

const BIN = new URL('../../bin/arbiter.js', import.meta.url).pathname;
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'arbiter-cli-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
// the CLI runs the compiled server: compile it (when stale) before, so that no test's output holds the compiler's line
beforeAll(() => ensureServerBuild(() => {}), 120_000);

const env = (extra: Record<string, string> = {}) => ({ ...process.env, ARBITER_NO_WEB_BUILD: '1', ARBITER_LOG_LEVEL: 'warn', ...extra });

describe('arbiter CLI', () => {
  it('lists its commands with --help and serve options with their defaults', () => {
    const top = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8', env: env() });
    expect(top.status).toBe(0);
    expect(top.stdout).toMatch(/serve \[options\]\s+sample this machine/);
    const serve = spawnSync(process.execPath, [BIN, 'serve', '--help'], { encoding: 'utf8', env: env() });
    expect(serve.stdout).toMatch(/--port <n>[^-]*\(default:\s+7070\)/);
    expect(serve.stdout).toMatch(/--no-auth/);
  });

  it('stops on an invalid value with one line naming option, value and what is allowed', () => {
    const r = spawnSync(process.execPath, [BIN, 'serve', '--host-interval-ms', 'fast'], { encoding: 'utf8', env: env() });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('arbiter: invalid --host-interval-ms "fast": expected an integer 100–3600000\n');
    const e = spawnSync(process.execPath, [BIN, 'serve'], { encoding: 'utf8', env: env({ ARBITER_PORT: 'x' }) });
    expect(e.stderr).toBe('arbiter: invalid ARBITER_PORT "x": expected an integer 0–65535\n');
  });

  it('prints the dashboard and API page URLs with the token, serves, and exits 0 within 5 s on SIGTERM', async () => {
    const dataDir = tmp();
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: string) => {
        out += c;
        const m = /Dashboard: (http:\/\/127\.0\.0\.1:\d+)\/\?token=(\S+)/.exec(out);
        if (m) resolve(`${m[1]}|${m[2]}`);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const [base, token] = url.split('|') as [string, string];
    expect(out).toContain(`API docs:  ${base}/docs?token=${token}\n`);
    expect(out).toContain(`API:       ${base}/api (token in ${dataDir}/token)\n`);
    expect((await fetch(`${base}/api/status`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    const stream = await openSse(`${base}/api/events?access_token=${token}`);
    const t0 = Date.now();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    await stream.ended;
  });
});

describe('a token given with --token', () => {
  it('is the one the banner names; no token file is written', async () => {
    const dataDir = tmp();
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir, '--token', 'given-token-0123456789'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: string) => {
        out += c;
        if (out.includes('API docs:')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    expect(out).toMatch(/API: {7}http:\/\/127\.0\.0\.1:\d+\/api \(the token given with --token\)\n/);
    expect(existsSync(join(dataDir, 'token'))).toBe(false);
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
  });
});

describe('restart', () => {
  it('keeps event ids increasing across a restart with the same data dir', async () => {
    const dataDir = tmp();
    const a = await startTestServer({ dataDir, hostSource: new FakeHostSource(), hostIntervalMs: 3_600_000 });
    for (let i = 0; i < 3; i++) await a.app.loop.runOnce('host');
    const lastA = a.app.hub.lastId;
    const tokenA = a.token;
    await a.close();
    const b = await startTestServer({ dataDir, hostSource: new FakeHostSource(), hostIntervalMs: 3_600_000 });
    try {
      expect(b.token).toBe(tokenA);
      await b.app.loop.runOnce('host');
      expect(b.app.hub.lastId).toBeGreaterThan(lastA);
      // a client that saw everything before the clean restart resumes without a reported gap
      const c = await openSse(`${b.url}/api/events?access_token=${b.token}`, { 'Last-Event-ID': String(lastA) });
      await c.until((f) => f.filter((x) => x.id).length >= 1);
      expect(c.frames.some((f) => f.event === 'replay_gap')).toBe(false);
      expect(Number(c.frames.find((f) => f.id)!.id)).toBe(lastA + 1);
      c.close();
    } finally {
      await b.close();
    }
  });
});

import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureServerBuild } from '../../bin/build.js';
import { FakeScheduler } from '../helpers/fake-scheduler.ts';

const BIN = new URL('../../bin/arbiter.js', import.meta.url).pathname;
const TOKEN = 'instance-cli-token-0123456789';
let scheduler: FakeScheduler;
// the CLI runs the compiled server: compile it (when stale) first, so that no output holds the compiler's line
beforeAll(async () => {
  await ensureServerBuild(() => {});
  scheduler = await FakeScheduler.start({ token: TOKEN });
}, 120_000);
afterAll(() => scheduler.close());

const env = { ...process.env, ARBITER_TOKEN: TOKEN };

describe('arbiter instance', () => {
  it('prints where it listens, registers, serves, and on SIGTERM removes itself and exits 0', async () => {
    const child = spawn(process.execPath, [BIN, 'instance', '--port', '0', '--model', 'llm', '--scheduler', scheduler.url, '--register', '--instance-id', 'cli-1'], {
      env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: string) => {
        out += c;
        const m = /^Instance cli-1 listening on (http:\/\/127\.0\.0\.1:(\d+)) \(model llm\)\n/.exec(out);
        if (m) resolve(m[1]!);
      });
      void exited.then((code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const port = Number(new URL(url).port);
    expect(await (await fetch(`${url}/health`)).json()).toMatchObject({ status: 'ok', instance_id: 'cli-1', model_type: 'llm', queue_size: 0 });
    // the token came from ARBITER_TOKEN: the stand-in answers 401 without it
    await scheduler.until((c) => c.some((x) => x.path === '/ti/register' && x.status === 200), 'the registration');
    expect(scheduler.callsTo('/ti/register').at(-1)!.body).toEqual({ host: '127.0.0.1', port, model_name: 'llm' });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(scheduler.callsTo('/ti/remove').map((c) => [c.status, c.body])).toEqual([[200, { host: '127.0.0.1', port }]]);
  });

  it('stops on a bad or missing option with one line naming it, exit 2', () => {
    const bad = spawnSync(process.execPath, [BIN, 'instance', '--port', '70000', '--model', 'llm', '--scheduler', scheduler.url], { encoding: 'utf8', env });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^arbiter instance: --port: [^\n]*65535[^\n]*\n$/);
    const missing = spawnSync(process.execPath, [BIN, 'instance', '--port', '0', '--scheduler', 'ftp://x'], { encoding: 'utf8', env });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe('arbiter instance: --model: required; --scheduler: expected an http:// or https:// URL\n');
    const unknown = spawnSync(process.execPath, [BIN, 'instance', '--port', '0', '--fast'], { encoding: 'utf8', env });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--fast'/);
    expect(bad.stdout + missing.stdout + unknown.stdout).toBe('');
  });
});

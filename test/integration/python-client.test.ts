/**
 * The Python client (clients/python/arbiter_client): its own unittest suite (against a stand-in server), and
 * examples/workers/train.py against a real server with the local backend — two `python3 -m arbiter_worker`
 * workers on their GPUs, the example engine created and called (positional and keyword arguments, a remote
 * exception), then deleted: nothing left running.
 */
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { runToEnd } from '../helpers/cli-server.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const REPO = new URL('../..', import.meta.url).pathname;
let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

describe('the Python client', () => {
  it('passes its unittest suite', () => {
    const r = spawnSync('python3', ['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-t', 'clients/python'], {
      cwd: REPO, encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }, timeout: 60_000,
    });
    expect(r.stderr).toMatch(/^Ran \d+ tests? in [\d.]+s\n\nOK/m);
    expect(r.status).toBe(0);
  });

  it('runs examples/workers/train.py against a real server: workers on their GPUs, engines called, deleted', async () => {
    s = await startTestServer({
      configure: (c) => {
        c.resources = { cpu: 8000, memoryMiB: 16_384, gpus: [{ index: 0, memoryMiB: 16_384 }, { index: 1, memoryMiB: 16_384 }] };
      },
    });
    const { code, out, err } = await runToEnd('python3', ['examples/workers/train.py', '--endpoint', s.url, '--gpu', '1', '--timeout', '60'], {
      cwd: REPO, env: { ...process.env, ARBITER_TOKEN: s.token, PYTHONDONTWRITEBYTECODE: '1' },
    });
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/echo-demo\/trial-1-0 running at 127\.0\.0\.1:\d+ on GPUs \[[01]\]/);
    expect(out).toMatch(/echo-demo\/trial-1-1 running at 127\.0\.0\.1:\d+ on GPUs \[[01]\]/);
    expect(out).toContain('add(2, 3) = 5');
    expect(out).toMatch(/greet\('Ada', greeting='hi'\) = hi, Ada/);
    expect(out).toMatch(/'cuda_visible_devices': '[01]'/);
    expect(out).toMatch(/the engine raised EchoError: failed on purpose/);
    const workers = s.app.workers.list('echo-demo/trial-1');
    expect(workers.map((w) => w.state)).toEqual(['stopped', 'stopped']);
    expect(new Set(workers.map((w) => w.gpus[0])).size).toBe(2);
    expect(s.app.engine.listAllocations('active')).toEqual([]);
  }, 90_000);
});

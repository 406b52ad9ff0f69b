/**
 * The worker contract's two runtimes — `arbiter worker` (node) and `python3 -m arbiter_worker` (python) — as real
 * processes on loopback, through one table of cases with their example engines (examples/workers/echo_engine.*).
 * Each case starts its own worker (port 0) and waits for its listening line, then for answers: no sleeps.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureServerBuild } from '../../bin/build.js';
import { EngineErrorSchema, WorkerHealthSchema } from '../../shared/workers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/arbiter.js');
const EXAMPLES = join(ROOT, 'examples/workers');

interface Runtime {
  runtime: 'node' | 'python';
  /** the command, without --port */
  argv: string[];
  env: Record<string, string>;
  /** stderr's prefix */
  prefix: string;
  engine: string;
  factory: string;
  missingModule: string;
  missingExport: string;
  malformed: string;
}

const RUNTIMES: Runtime[] = [
  {
    runtime: 'node',
    argv: [process.execPath, BIN, 'worker'],
    env: {},
    prefix: 'arbiter worker: ',
    engine: 'echo_engine.mjs#EchoEngine',
    factory: 'echo_engine.mjs#makeEchoEngine',
    missingModule: 'no_such_engine.mjs#Engine',
    missingExport: 'echo_engine.mjs#NoSuchEngine',
    malformed: 'echo_engine.mjs',
  },
  {
    runtime: 'python',
    argv: ['python3', '-m', 'arbiter_worker'],
    env: { PYTHONPATH: join(ROOT, 'clients/python') },
    prefix: 'arbiter_worker: ',
    engine: 'echo_engine:EchoEngine',
    factory: 'echo_engine:make_echo_engine',
    missingModule: 'no_such_engine:Engine',
    missingExport: 'echo_engine:NoSuchEngine',
    malformed: 'echo_engine',
  },
];

/** The environment without what would tell a worker its port, host or id. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(ARBITER_|CUDA_VISIBLE_DEVICES$|PYTHONPATH$)/.test(k)) env[k] = v;
  return env;
}

interface Started {
  child: ChildProcess;
  url: string;
  line: string;
  exited: Promise<number | null>;
  stderr: () => string;
}

const children: ChildProcess[] = [];
let tmp: string;

// the node runtime runs the compiled server: compile it (when stale) first, so that no output holds the compiler's line
beforeAll(async () => {
  await ensureServerBuild(() => {});
  tmp = mkdtempSync(join(tmpdir(), 'arbiter-worker-runtime-'));
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Start a worker and wait for its listening line. */
async function start(rt: Runtime, flags: string[] = ['--port', '0'], env: Record<string, string> = { ARBITER_WORKER_ID: 'w-7', CUDA_VISIBLE_DEVICES: '3' }): Promise<Started> {
  const child = spawn(rt.argv[0]!, [...rt.argv.slice(1), ...flags], { cwd: EXAMPLES, env: { ...baseEnv(), ...rt.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => (err += c));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (c: string) => {
      out += c;
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n') + 1));
    });
    void exited.then((code) => reject(new Error(`${rt.runtime} worker exited ${code} before listening: ${out}${err}`)));
  });
  const m = / listening on (http:\/\/\S+) \(runtime \w+\)\n$/.exec(line);
  if (!m) throw new Error(`not a listening line: ${JSON.stringify(line)}`);
  return { child, url: m[1]!, line, exited, stderr: () => err };
}

async function post(url: string, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}
const health = async (url: string) => {
  const res = await fetch(`${url}/health`);
  expect(res.status).toBe(200);
  return WorkerHealthSchema.parse(await res.json());
};
const call = (url: string, method: string, args?: unknown[], kwargs?: Record<string, unknown>) => post(url, '/call', { method, ...(args ? { args } : {}), ...(kwargs ? { kwargs } : {}) });

describe.each(RUNTIMES)('worker runtime: $runtime', (rt) => {
  it('listens on port 0 as a free port it names in its listening line, and answers /health before and after an engine', async () => {
    const w = await start(rt);
    expect(w.line).toMatch(new RegExp(`^Worker w-7 listening on http://127\\.0\\.0\\.1:[1-9]\\d* \\(runtime ${rt.runtime}\\)\\n$`));
    expect(await health(w.url)).toEqual({ status: 'ok', worker_id: 'w-7', engine: null, runtime: rt.runtime });
    expect(await post(w.url, '/engine', { engine: rt.engine })).toEqual({ status: 200, body: { engine: rt.engine } });
    expect(await health(w.url)).toEqual({ status: 'ok', worker_id: 'w-7', engine: rt.engine, runtime: rt.runtime });
  });

  it('makes the engine with init_config and calls its methods with args and kwargs', async () => {
    const w = await start(rt);
    const config = { tag: 'a', n: 1, nested: { list: [1, 'two', null] } };
    expect((await post(w.url, '/engine', { engine: rt.engine, init_config: config })).status).toBe(200);
    expect(await call(w.url, 'add', [2, 3])).toEqual({ status: 200, body: { result: 5 } });
    expect(await call(w.url, 'echo', [{ a: [1, 2.5, 'x', true, null] }])).toEqual({ status: 200, body: { result: { a: [1, 2.5, 'x', true, null] } } });
    expect(await call(w.url, 'greet', ['Ada'])).toEqual({ status: 200, body: { result: 'hello, Ada' } });
    expect(await call(w.url, 'greet', ['Ada'], { greeting: 'hi', punctuation: '!' })).toEqual({ status: 200, body: { result: 'hi, Ada!' } });
    // the environment Arbiter gives a worker reaches its engine
    expect(await call(w.url, 'info')).toEqual({ status: 200, body: { result: { worker_id: 'w-7', cuda_visible_devices: '3', config, closed: [] } } });
  });

  it('without init_config the constructor gets no argument; an async factory is awaited', async () => {
    const w = await start(rt);
    await post(w.url, '/engine', { engine: rt.engine });
    expect((await call(w.url, 'info')).body.result.config).toEqual({});
    expect(await post(w.url, '/engine', { engine: rt.factory, init_config: { tag: 'f' } })).toEqual({ status: 200, body: { engine: rt.factory } });
    expect((await call(w.url, 'info')).body.result.config).toEqual({ tag: 'f' });
  });

  it('awaits an async method', async () => {
    const w = await start(rt);
    await post(w.url, '/engine', { engine: rt.engine });
    const answers = await Promise.all([call(w.url, 'later', [1]), call(w.url, 'later', [2]), call(w.url, 'add', [1, 1])]);
    expect(answers).toEqual([{ status: 200, body: { result: { later: 1 } } }, { status: 200, body: { result: { later: 2 } } }, { status: 200, body: { result: 2 } }]);
  });

  it('a method that raises: 500 engine_error with its class name and a stack naming the method; a result JSON cannot hold: TypeError', async () => {
    const w = await start(rt);
    await post(w.url, '/engine', { engine: rt.engine });
    const failed = await call(w.url, 'fail', ['boom']);
    expect(failed.status).toBe(500);
    const { error } = EngineErrorSchema.parse(failed.body);
    expect(error).toMatchObject({ code: 'engine_error', message: 'boom', remote_type: 'EchoError' });
    expect(error.remote_stack).toMatch(/fail/);
    expect(error.remote_stack).toMatch(/echo_engine\.(mjs|py)/);
    const notJson = await call(w.url, 'not_json');
    expect(notJson.status).toBe(500);
    expect(EngineErrorSchema.parse(notJson.body).error).toMatchObject({ code: 'engine_error', remote_type: 'TypeError', message: expect.stringMatching(/not_json.*not JSON-serializable/) });
    // the worker goes on
    expect(await call(w.url, 'add', [1, 2])).toEqual({ status: 200, body: { result: 3 } });
  });

  it('an engine it cannot find: 400 engine_not_found, and the engine it holds stays', async () => {
    const w = await start(rt);
    await post(w.url, '/engine', { engine: rt.engine, init_config: { tag: 'kept' } });
    for (const name of [rt.missingModule, rt.missingExport, rt.malformed]) {
      const answer = await post(w.url, '/engine', { engine: name });
      expect(answer.status, name).toBe(400);
      expect(answer.body.error.code, name).toBe('engine_not_found');
      expect(answer.body.error.message, name).toContain(JSON.stringify(name));
    }
    expect((await health(w.url)).engine).toBe(rt.engine);
    expect((await call(w.url, 'info')).body.result).toMatchObject({ config: { tag: 'kept' }, closed: [] });
  });

  it('an unknown, private or non-callable method: 404 no_method', async () => {
    const w = await start(rt);
    await post(w.url, '/engine', { engine: rt.engine });
    for (const method of ['no_such_method', '_secret', 'config']) {
      const answer = await call(w.url, method);
      expect(answer.status, method).toBe(404);
      expect(answer.body.error.code, method).toBe('no_method');
      expect(answer.body.error.message, method).toContain(JSON.stringify(method));
    }
  });

  it('a call before any engine: 409 no_engine', async () => {
    const w = await start(rt);
    const answer = await call(w.url, 'add', [1, 2]);
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe('no_engine');
  });

  it('a bad body: 400 invalid_input naming the field; other routes: 404, 405', async () => {
    const w = await start(rt);
    await post(w.url, '/engine', { engine: rt.engine });
    const cases: [string, unknown, RegExp][] = [
      ['/call', {}, /^invalid body: method: /],
      ['/call', { method: '' }, /^invalid body: method: /],
      ['/call', { method: 'add', args: 'x' }, /^invalid body: args: /],
      ['/call', { method: 'add', kwargs: [1] }, /^invalid body: kwargs: /],
      ['/call', { method: 'add', extra: 1 }, /^invalid body: \(body\): .*"extra"/],
      ['/call', [], /^invalid body: \(body\): /],
      ['/call', '{"method": ', /^invalid body: \(body\): not JSON/],
      ['/engine', {}, /^invalid body: engine: /],
      ['/engine', { engine: 5 }, /^invalid body: engine: /],
    ];
    for (const [path, body, message] of cases) {
      const answer = await post(w.url, path, body);
      expect(answer, `${path} ${JSON.stringify(body)}`).toEqual({ status: 400, body: { error: { code: 'invalid_input', message: expect.stringMatching(message) } } });
    }
    expect((await post(w.url, '/nowhere', {})).status).toBe(404);
    const get = await fetch(`${w.url}/call`);
    expect([get.status, ((await get.json()) as any).error.code]).toEqual([405, 'method_not_allowed']);
  });

  it('replacing the engine closes the old one', async () => {
    const w = await start(rt);
    await post(w.url, '/engine', { engine: rt.engine, init_config: { tag: 'a' } });
    await post(w.url, '/engine', { engine: rt.engine, init_config: { tag: 'b' } });
    expect((await call(w.url, 'info')).body.result).toMatchObject({ config: { tag: 'b' }, closed: ['a'] });
    await post(w.url, '/engine', { engine: rt.factory, init_config: { tag: 'c' } });
    expect((await call(w.url, 'info')).body.result).toMatchObject({ config: { tag: 'c' }, closed: ['a', 'b'] });
    expect((await health(w.url)).engine).toBe(rt.factory);
  });

  it('on SIGTERM closes its engine and exits 0', async () => {
    const w = await start(rt);
    const file = join(tmp, `closed-${rt.runtime}`);
    await post(w.url, '/engine', { engine: rt.engine, init_config: { tag: 'last', closed_file: file } });
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('last\n');
    expect(w.stderr()).toBe(`${rt.prefix}SIGTERM, shutting down\n`);
  });

  it('takes its port and host from ARBITER_PORT and ARBITER_HOST (a container listens on 0.0.0.0); without an id it says none', async () => {
    const w = await start(rt, [], { ARBITER_PORT: '0', ARBITER_HOST: '0.0.0.0' });
    expect(w.line).toMatch(new RegExp(`^Worker listening on http://0\\.0\\.0\\.0:[1-9]\\d* \\(runtime ${rt.runtime}\\)\\n$`));
    const port = new URL(w.url).port;
    expect(await health(`http://127.0.0.1:${port}`)).toEqual({ status: 'ok', worker_id: null, engine: null, runtime: rt.runtime });
  });

  it('without a port, or with a bad one: one line on stderr, exit 2', () => {
    const run = (flags: string[]) => spawnSync(rt.argv[0]!, [...rt.argv.slice(1), ...flags], { cwd: EXAMPLES, env: { ...baseEnv(), ...rt.env }, encoding: 'utf8' });
    const missing = run([]);
    expect([missing.status, missing.stdout, missing.stderr]).toEqual([2, '', `${rt.prefix}--port: required (or env ARBITER_PORT)\n`]);
    const bad = run(['--port', '70000']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(new RegExp(`^${rt.prefix}[^\\n]*--port[^\\n]*65535[^\\n]*\\n$`));
  });
});

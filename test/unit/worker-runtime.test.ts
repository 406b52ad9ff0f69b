/**
 * The node runtime of the worker contract in-process (server/worker/): its options, the engine host (classes and
 * factories, what counts as a method, errors and their stacks, closing) and its strict JSON results, through
 * `startWorker` on loopback with engines written to a temporary directory. The contract's cases for both runtimes
 * as processes are test/integration/worker-runtime.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EngineErrorSchema } from '../../shared/workers.ts';
import { ArbiterError } from '../../server/errors.ts';
import { EngineFailure, EngineHost, engineFrames } from '../../server/worker/engine.ts';
import { resolveWorkerOptions, WorkerOptionsError, workerOptionsFrom } from '../../server/worker/options.ts';
import { resultJson, startWorker, type RunningWorker } from '../../server/worker/runtime.ts';

let dir: string;
const ENGINES = `
export class ArgsEngine {
  constructor(...given) { this.given = given; }
  args(...a) { return a; }
  given_() { return this.given; }
  nothing() {}
  fn() { return { f: () => 1 }; }
  nan() { return [1, NaN]; }
  cycle() { const o = {}; o.self = o; return o; }
  async rejects() { await null; throw new RangeError('late'); }
  throwsString() { throw 'plain text'; }
  get config() { return 'a getter, not a method'; }
}
export function sync_factory(config) { return { config: () => config, close() { throw new Error('close fails'); } }; }
export async function number_factory() { return 42; }
export const notCallable = 7;
export class Closing { constructor(c) { this.c = c; } shutdown() { Closing.shut.push(this.c); } }
Closing.shut = [];
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'arbiter-worker-unit-'));
  writeFileSync(join(dir, 'engines.mjs'), ENGINES);
  writeFileSync(join(dir, 'throws-on-import.mjs'), "throw new SyntaxError('bad module');\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('worker options', () => {
  it('takes --port and --host over ARBITER_PORT and ARBITER_HOST, the id from ARBITER_WORKER_ID; host 127.0.0.1 by default', () => {
    const env = { ARBITER_PORT: '9100', ARBITER_HOST: '0.0.0.0', ARBITER_WORKER_ID: 'g-0' };
    expect(resolveWorkerOptions(workerOptionsFrom({}, env))).toEqual({ port: 9100, host: '0.0.0.0', workerId: 'g-0' });
    expect(resolveWorkerOptions(workerOptionsFrom({ port: '0', host: '::1' }, env))).toEqual({ port: 0, host: '::1', workerId: 'g-0' });
    expect(resolveWorkerOptions(workerOptionsFrom({ port: '5' }, { ARBITER_HOST: '' }))).toEqual({ port: 5, host: '127.0.0.1' });
  });

  it('names a bad or missing option by its flag', () => {
    expect(() => resolveWorkerOptions(workerOptionsFrom({}, {}))).toThrow(new WorkerOptionsError('--port: required (or env ARBITER_PORT)'));
    expect(() => resolveWorkerOptions(workerOptionsFrom({ port: 'x' }, {}))).toThrow(/^--port: expected a number$/);
    expect(() => resolveWorkerOptions(workerOptionsFrom({ port: '70000' }, {}))).toThrow(/^--port: Too big.*65535/);
  });
});

describe('results: strictly JSON', () => {
  it('undefined is null; functions, symbols, BigInt, NaN, Infinity and cycles throw', () => {
    expect(resultJson(undefined)).toBe('{"result":null}');
    expect(resultJson({ a: [1, 'x', null], d: new Date(0) })).toBe('{"result":{"a":[1,"x",null],"d":"1970-01-01T00:00:00.000Z"}}');
    for (const bad of [() => 1, { f: () => 1 }, Symbol('s'), 1n, [NaN], { x: Infinity }]) expect(() => resultJson(bad)).toThrow(TypeError);
    const o: Record<string, unknown> = {};
    o.self = o;
    expect(() => resultJson(o)).toThrow(TypeError);
  });
});

describe('engine host', () => {
  it('makes a class with new and a factory by calling it, with init_config as the one argument or none', async () => {
    const host = new EngineHost(dir);
    await host.create('engines.mjs#ArgsEngine');
    expect(await host.call('given_')).toEqual([]);
    await host.create(join(dir, 'engines.mjs#ArgsEngine'), { a: 1 });
    expect(await host.call('given_')).toEqual([{ a: 1 }]);
    await host.create('engines.mjs#ArgsEngine', null);
    expect(await host.call('given_')).toEqual([null]);
    await host.create('./engines.mjs#sync_factory', [1, 2]);
    expect(await host.call('config')).toEqual([1, 2]);
  });

  it('passes kwargs as a last object argument only when it has keys', async () => {
    const host = new EngineHost(dir);
    await host.create('engines.mjs#ArgsEngine');
    expect(await host.call('args', [1, 'b'])).toEqual([1, 'b']);
    expect(await host.call('args', [1], {})).toEqual([1]);
    expect(await host.call('args', [1], { k: 2 })).toEqual([1, { k: 2 }]);
  });

  it("no method: unknown, private, Object's own, or a value that is not a function", async () => {
    const host = new EngineHost(dir);
    await expect(host.call('args')).rejects.toMatchObject({ status: 409, code: 'no_engine' });
    await host.create('engines.mjs#ArgsEngine');
    for (const m of ['nope', '_private', 'toString', 'constructor', 'hasOwnProperty', 'config', 'given']) {
      await expect(host.call(m), m).rejects.toMatchObject({ status: 404, code: 'no_method' });
    }
  });

  it('not found: a malformed name, no such file, no such export, an export that is not callable — the old engine stays', async () => {
    const host = new EngineHost(dir);
    await host.create('engines.mjs#ArgsEngine', 'kept');
    for (const name of ['engines.mjs', '#ArgsEngine', 'engines.mjs#', 'missing.mjs#X', 'engines.mjs#Nope', 'engines.mjs#notCallable']) {
      await expect(host.create(name), name).rejects.toMatchObject({ status: 400, code: 'engine_not_found' });
    }
    expect(host.name).toBe('engines.mjs#ArgsEngine');
    expect(await host.call('given_')).toEqual(['kept']);
  });

  it('engine errors: a module that throws on import, a factory that returns no object, a rejection, a thrown string', async () => {
    const host = new EngineHost(dir);
    const failure = async (p: Promise<unknown>) => {
      const err = await p.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(EngineFailure);
      return EngineErrorSchema.parse((err as EngineFailure).body()).error;
    };
    expect(await failure(host.create('throws-on-import.mjs#X'))).toMatchObject({ remote_type: 'SyntaxError', message: 'bad module' });
    expect(await failure(host.create('engines.mjs#number_factory'))).toMatchObject({ remote_type: 'TypeError', message: expect.stringMatching(/returned number, not an engine/) });
    expect(host.name).toBeNull();
    await host.create('engines.mjs#ArgsEngine');
    const late = await failure(host.call('rejects'));
    expect(late).toMatchObject({ remote_type: 'RangeError', message: 'late' });
    expect(late.remote_stack).toMatch(/^RangeError: late\n\s+at ArgsEngine\.rejects \(.*engines\.mjs/);
    expect(late.remote_stack).not.toMatch(/server[\\/]worker/);
    expect(await failure(host.call('throwsString'))).toMatchObject({ remote_type: 'string', message: 'plain text' });
  });

  it('replacing or closing calls close or shutdown; what close throws is logged and the replacement goes on', async () => {
    const logged: string[] = [];
    const host = new EngineHost(dir, (l) => logged.push(l));
    await host.create('engines.mjs#Closing', 'one');
    await host.create('engines.mjs#Closing', 'two');
    const { Closing } = (await import(join(dir, 'engines.mjs'))) as { Closing: { shut: string[] } };
    expect(Closing.shut).toEqual(['one']);
    await host.create('engines.mjs#sync_factory', 'x');
    expect(Closing.shut).toEqual(['one', 'two']);
    await host.create('engines.mjs#ArgsEngine');
    expect(logged).toEqual([expect.stringMatching(/^engine engines\.mjs#sync_factory: closing it threw Error: close fails/)]);
    await host.close();
    expect(host.name).toBeNull();
  });

  it('replacements run one after the other', async () => {
    const host = new EngineHost(dir);
    const made = await Promise.all([host.create('engines.mjs#Closing', 'p'), host.create('engines.mjs#Closing', 'q'), host.create('missing.mjs#X').catch((e: ArbiterError) => e.code)]);
    expect(made).toEqual(['engines.mjs#Closing', 'engines.mjs#Closing', 'engine_not_found']);
    const { Closing } = (await import(join(dir, 'engines.mjs'))) as { Closing: { shut: string[] } };
    expect(Closing.shut.slice(-1)).toEqual(['p']);
  });

  it('cuts the worker\'s own frames from a stack', () => {
    const stack = 'E: x\n    at Engine.m (file:///e.mjs:1:1)\n    at EngineHost.call (/r/server/worker/engine.ts:9:9)\n    at call (/r/server/worker/runtime.ts:1:1)';
    expect(engineFrames(stack)).toBe('E: x\n    at Engine.m (file:///e.mjs:1:1)');
    expect(engineFrames('E: x')).toBe('E: x');
  });
});

describe('the HTTP surface, in-process', () => {
  let worker: RunningWorker;
  beforeAll(async () => {
    worker = await startWorker({ port: 0, workerId: 'u-1', cwd: dir });
  });
  afterEach(() => worker.engines.close());
  afterAll(() => worker.close());

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${worker.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('serves health, engine and call on the port it got', async () => {
    expect(worker.url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
    expect(await (await fetch(`${worker.url}/health`)).json()).toEqual({ status: 'ok', worker_id: 'u-1', engine: null, runtime: 'node' });
    expect(await post('/engine', { engine: 'engines.mjs#ArgsEngine', init_config: 3 })).toEqual({ status: 200, body: { engine: 'engines.mjs#ArgsEngine' } });
    expect(await post('/call', { method: 'args', args: [1], kwargs: { a: 2 } })).toEqual({ status: 200, body: { result: [1, { a: 2 }] } });
    expect(await post('/call', { method: 'nothing' })).toEqual({ status: 200, body: { result: null } });
  });

  it('a result JSON cannot hold is an engine_error of type TypeError naming the method', async () => {
    await post('/engine', { engine: 'engines.mjs#ArgsEngine' });
    for (const method of ['fn', 'nan', 'cycle']) {
      const answer = await post('/call', { method });
      expect(answer.status, method).toBe(500);
      expect(EngineErrorSchema.parse(answer.body).error, method).toMatchObject({ remote_type: 'TypeError', message: expect.stringContaining(`the result of ${method} is not JSON-serializable`) });
    }
  });

  it('a body over 16 MiB: 413', async () => {
    const answer = await post('/call', { method: 'args', args: ['x'.repeat(16 * 1024 * 1024)] });
    expect(answer).toEqual({ status: 413, body: { error: { code: 'too_large', message: expect.stringMatching(/body over/) } } });
  });
});

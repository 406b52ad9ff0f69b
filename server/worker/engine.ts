/**
 * The engine a worker holds: made from its name (`path/to/module.js#ExportName`, the path relative to the worker's
 * cwd or absolute, imported as an ES module), called by method name, closed when it is replaced or the worker
 * stops. The export is a class (`new X(init_config)`) or a factory (`X(init_config)`, may return a promise); it gets
 * `init_config` as its one argument, or no argument when the body has none.
 *
 * What goes wrong is an ArbiterError with the worker contract's codes: `engine_not_found` (400: a bad name, no such
 * file or export), `no_engine` (409), `no_method` (404: not a function of the engine, or private — `_…`, or one
 * of Object's own like `toString`), and `engine_error` (500) for anything the engine's code throws — its import,
 * constructor or method — with the thrown value's class name and stack (EngineFailure).
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EngineError } from '../../shared/workers.ts';
import { ArbiterError } from '../errors.ts';

/** What the engine's code threw, as the contract reports it (HTTP 500, code `engine_error`). */
export class EngineFailure extends ArbiterError {
  constructor(readonly remoteType: string, message: string, readonly remoteStack: string) {
    super(500, 'engine_error', message);
  }

  /** The worker's answer body. */
  body(): EngineError {
    return { error: { code: 'engine_error', message: this.message, remote_type: this.remoteType, remote_stack: this.remoteStack } };
  }

  /** The failure a thrown value stands for: its class name, message and stack (a non-Error: its type and text). */
  static of(thrown: unknown): EngineFailure {
    if (thrown instanceof Error) {
      const type = thrown.constructor?.name || thrown.name || 'Error';
      return new EngineFailure(type, thrown.message, thrown.stack === undefined ? `${type}: ${thrown.message}` : engineFrames(thrown.stack));
    }
    const type = thrown === null ? 'null' : typeof thrown === 'object' ? (Object.getPrototypeOf(thrown)?.constructor?.name ?? 'Object') : typeof thrown;
    const message = typeof thrown === 'string' ? thrown : safeText(thrown);
    return new EngineFailure(type, message, `${type}: ${message} (thrown without a stack)`);
  }
}

/** The worker's own frames (this folder's modules, as sources or compiled) and Node's task queue's. */
const OWN_FRAME = /server[\\/]worker[\\/](engine|runtime)\.[tj]s:|node:internal\/process\/task_queues/;

/** A stack down to the engine's frames: from the first of the worker's own frames on, it is cut. */
export function engineFrames(stack: string): string {
  const lines = stack.split('\n');
  const cut = lines.findIndex((l) => /^\s+at /.test(l) && OWN_FRAME.test(l));
  return cut < 0 ? stack : lines.slice(0, cut).join('\n');
}

function safeText(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

type Engine = Record<string, unknown>;
type Maker = (initConfig?: unknown) => unknown;

/** A class (made with `new`) rather than a factory: told by its source text, as `class` syntax is the only sure sign. */
const isClass = (f: Function) => /^class[\s{]/.test(Function.prototype.toString.call(f));

export class EngineHost {
  private engine: Engine | null = null;
  private engineName: string | null = null;
  /** replacements one after the other (an async factory must not see another replacement start) */
  private replacing: Promise<unknown> = Promise.resolve();

  /**
   * @param cwd what relative module paths are relative to @default process.cwd()
   * @param log what goes wrong that no answer carries (an old engine's close that threw)
   */
  constructor(private readonly cwd: string = process.cwd(), private readonly log: (line: string) => void = () => {}) {}

  /** The name of the engine held, or null. */
  get name(): string | null {
    return this.engineName;
  }

  /**
   * Make the engine `name` in place of the one held. The name is resolved first (a bad one leaves the old engine
   * as it was); then the old engine is closed (its `close` or `shutdown`, awaited) before the new one is made — two
   * engines would not both fit on one GPU — so when the new one's constructor throws, the worker holds none.
   */
  create(name: string, initConfig?: unknown): Promise<string> {
    const config = initConfig === undefined ? [] : [initConfig];
    const run = this.replacing.then(async () => {
      const make = await this.resolve(name);
      await this.close();
      let made: unknown;
      try {
        made = isClass(make) ? new (make as unknown as new (...c: unknown[]) => unknown)(...config) : await make(...config);
      } catch (err) {
        throw EngineFailure.of(err);
      }
      if ((typeof made !== 'object' && typeof made !== 'function') || made === null) {
        const err = new TypeError(`${name}: the factory returned ${made === null ? 'null' : typeof made}, not an engine object`);
        throw EngineFailure.of(err);
      }
      this.engine = made as Engine;
      this.engineName = name;
      return name;
    });
    this.replacing = run.catch(() => {});
    return run;
  }

  /** `engine[method](...args)`, with `kwargs` as a last argument when it has any key; a promise is awaited. */
  async call(method: string, args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}): Promise<unknown> {
    const engine = this.engine;
    if (!engine) throw new ArbiterError(409, 'no_engine', 'this worker has no engine: create one with POST /engine first');
    const fn = method.startsWith('_') || method in Object.prototype ? undefined : engine[method];
    if (typeof fn !== 'function') {
      const why = method.startsWith('_') ? 'private (starts with _)' : 'not a method of it';
      throw new ArbiterError(404, 'no_method', `engine ${this.engineName}: ${JSON.stringify(method)} is ${why}`);
    }
    const all = Object.keys(kwargs).length > 0 ? [...args, kwargs] : [...args];
    try {
      return await (fn as (...a: unknown[]) => unknown).apply(engine, all);
    } catch (err) {
      throw EngineFailure.of(err);
    }
  }

  /** Close the engine held (its `close` or `shutdown`, awaited; what it throws is logged), and hold none. */
  async close(): Promise<void> {
    const engine = this.engine;
    const name = this.engineName;
    this.engine = null;
    this.engineName = null;
    if (!engine) return;
    const closer = ['close', 'shutdown'].map((m) => engine[m]).find((f) => typeof f === 'function') as (() => unknown) | undefined;
    if (!closer) return;
    try {
      await closer.call(engine);
    } catch (err) {
      this.log(`engine ${name}: closing it threw ${EngineFailure.of(err).remoteStack}`);
    }
  }

  /** The class or factory a name stands for: engine_not_found when there is none, engine_error when importing throws. */
  private async resolve(name: string): Promise<Maker> {
    const hash = name.lastIndexOf('#');
    const path = name.slice(0, hash);
    const exported = name.slice(hash + 1);
    if (hash <= 0 || !exported) throw notFound(name, 'expected path/to/module.js#ExportName');
    const file = isAbsolute(path) ? path : resolve(this.cwd, path);
    if (!existsSync(file)) throw notFound(name, `no file ${file}`);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (err) {
      throw EngineFailure.of(err);
    }
    const make = Object.hasOwn(mod, exported) ? mod[exported] : undefined;
    if (typeof make !== 'function') throw notFound(name, `${path} has no exported class or function ${JSON.stringify(exported)}`);
    return make as Maker;
  }
}

const notFound = (name: string, why: string) => new ArbiterError(400, 'engine_not_found', `engine ${JSON.stringify(name)}: ${why}`);

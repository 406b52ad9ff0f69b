/**
 * An example engine for `arbiter worker` (the node runtime): a class whose public methods are called by name.
 * Its twin for `python3 -m arbiter_worker` is echo_engine.py; the tests run both through the same cases.
 *
 *   cd examples/workers && npx arbiter worker --port 9100
 *   curl -s localhost:9100/engine -d '{"engine": "echo_engine.mjs#EchoEngine", "init_config": {"tag": "a"}}'
 *   curl -s localhost:9100/call -d '{"method": "add", "args": [2, 3]}'          # {"result":5}
 *
 * The constructor gets `init_config` (or nothing); keyword arguments (`kwargs`) arrive as a last object argument,
 * only when there are some. `close()` is called when the engine is replaced or the worker stops; with
 * `init_config.closed_file` it also appends its tag to that file, so that a closing at exit can be seen.
 */

import { appendFileSync } from 'node:fs';

/** Tags of the engines closed in this process, in order (a replaced engine's close is seen by the next one). */
const closed = [];

/** What `fail` throws: its class name is the error's `remote_type`. */
export class EchoError extends Error {}
EchoError.prototype.name = 'EchoError';

export class EchoEngine {
  constructor(config = {}) {
    this.config = config ?? {};
  }

  add(a, b) {
    return a + b;
  }

  echo(x) {
    return x;
  }

  greet(name, { greeting = 'hello', punctuation = '' } = {}) {
    return `${greeting}, ${name}${punctuation}`;
  }

  /** An async method: the worker awaits it. */
  async later(x) {
    await new Promise((resolve) => setImmediate(resolve));
    return { later: x };
  }

  /** Where it runs: the worker's id and the GPUs it was granted, from the environment Arbiter gave it. */
  info() {
    return {
      worker_id: process.env.ARBITER_WORKER_ID ?? null,
      cuda_visible_devices: process.env.CUDA_VISIBLE_DEVICES ?? null,
      config: this.config,
      closed,
    };
  }

  fail(message = 'failed as asked') {
    throw new EchoError(message);
  }

  /** A result JSON cannot hold (a BigInt): the worker answers an engine_error of type TypeError. */
  not_json() {
    return 1n;
  }

  /** Private: not callable through /call. */
  _secret() {
    return 'hidden';
  }

  close() {
    closed.push(this.config.tag ?? null);
    if (this.config.closed_file) appendFileSync(this.config.closed_file, `${this.config.tag}\n`);
  }
}

/** The same engine from an async factory: `echo_engine.mjs#makeEchoEngine`. */
export async function makeEchoEngine(config) {
  await Promise.resolve();
  return new EchoEngine(config);
}

/**
 * The worker's side of the worker contract (shared/workers.ts), on node:http: `GET /health`, `POST /engine` (make
 * the engine, replacing the one held), `POST /call` (call one of its methods). Bodies are checked with the shared
 * schemas; errors are `{error: {code, message}}`: 400 `invalid_input` naming the field (or `(body)`), 400
 * `engine_not_found`, 404 `no_method`, 409 `no_engine`, 413 `too_large` (a body over 16 MiB), 500 `engine_error`
 * with `remote_type` and `remote_stack` (what the engine's code threw, or a result that is not JSON), 404/405 for
 * other routes.
 *
 * Calls are taken as they come: a synchronous method holds the event loop until it returns (calls run one at a
 * time), a method returning a promise lets other calls run while it waits (they interleave) — Node's own way.
 */
import { createServer, type RequestListener, type ServerResponse } from 'node:http';
import { CallBodySchema, EngineBodySchema, type CallResponse, type EngineResponse, type WorkerHealth } from '../../shared/workers.ts';
import { ArbiterError, fieldProblems, problemsText } from '../errors.ts';
import { EngineFailure, EngineHost } from './engine.ts';
import { resolveWorkerOptions, type WorkerOptions } from './options.ts';
import { answerJson, listen, readJsonBody, routeTable, type RouteTable } from '../runtime/small-http.ts';

export const MAX_BODY_BYTES = 16 * 1024 * 1024;
export const RUNTIME = 'node';

export interface WorkerHandlerOptions {
  workerId: string | null;
  engines: EngineHost;
}

export function workerHandler(opts: WorkerHandlerOptions): RequestListener {
  const routes: RouteTable<string> = {
    '/health': { GET: () => JSON.stringify(health(opts)) },
    '/engine': { POST: async (req) => JSON.stringify(await createEngine(opts, await readJsonBody(req, MAX_BODY_BYTES, 'invalid_input'))) },
    '/call': { POST: async (req) => call(opts, await readJsonBody(req, MAX_BODY_BYTES, 'invalid_input')) },
  };
  return routeTable(routes, (res, text) => answerJson(res, 200, text), answerError);
}

function health(opts: WorkerHandlerOptions): WorkerHealth {
  return { status: 'ok', worker_id: opts.workerId, engine: opts.engines.name, runtime: RUNTIME };
}

async function createEngine(opts: WorkerHandlerOptions, input: unknown): Promise<EngineResponse> {
  const body = EngineBodySchema.safeParse(input);
  if (!body.success) throw invalidBody(body.error);
  return { engine: await opts.engines.create(body.data.engine, body.data.init_config) };
}

/** The call's answer, as text: a result that JSON cannot hold is the engine's TypeError, not the worker's. */
async function call(opts: WorkerHandlerOptions, input: unknown): Promise<string> {
  const body = CallBodySchema.safeParse(input);
  if (!body.success) throw invalidBody(body.error);
  const { method, args, kwargs } = body.data;
  const result = await opts.engines.call(method, args, kwargs);
  try {
    return resultJson(result);
  } catch (err) {
    const message = `the result of ${method} is not JSON-serializable: ${(err as Error).message.split('\n')[0]}`;
    throw new EngineFailure('TypeError', message, `TypeError: ${message}`);
  }
}

/**
 * `{"result": …}`, strictly JSON: `undefined` (a method that returns nothing) is null, but a function, symbol,
 * BigInt, NaN or ±Infinity anywhere, or a cycle, throws rather than being dropped or turned into null.
 */
export function resultJson(result: unknown): string {
  const body: CallResponse = { result: result === undefined ? null : result };
  return JSON.stringify(body, (key, value: unknown) => {
    const what = key ? `${JSON.stringify(key)} holds ` : '';
    if (typeof value === 'function' || typeof value === 'symbol') throw new TypeError(`${what}a ${typeof value}`);
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError(`${what}${value}`);
    return value;
  });
}

const invalidBody = (error: Parameters<typeof fieldProblems>[0]) => new ArbiterError(400, 'invalid_input', `invalid body: ${problemsText(fieldProblems(error))}`);


function answerError(res: ServerResponse, err: unknown): void {
  if (err instanceof EngineFailure) return answerJson(res, 500, JSON.stringify(err.body()));
  const known = err instanceof ArbiterError ? err : undefined;
  const message = known ? known.message : `internal error: ${err instanceof Error ? err.message : String(err)}`;
  answerJson(res, known?.status ?? 500, JSON.stringify({ error: { code: known?.code ?? 'internal', message } }));
}

export interface WorkerDeps {
  /** what relative engine paths are relative to @default process.cwd() */
  cwd?: string;
  /** what goes wrong that no answer carries @default nothing */
  log?: (line: string) => void;
}

export interface RunningWorker {
  url: string;
  port: number;
  workerId: string | null;
  engines: EngineHost;
  /** Stop listening (open connections are closed), then close the engine held. */
  close(): Promise<void>;
}

/** Start a worker in this process: listening once it resolves. */
export async function startWorker(input: WorkerOptions & WorkerDeps): Promise<RunningWorker> {
  const o = resolveWorkerOptions(input);
  const engines = new EngineHost(input.cwd ?? process.cwd(), input.log ?? (() => {}));
  const workerId = o.workerId ?? null;
  const server = createServer({ keepAliveTimeout: 65_000 }, workerHandler({ workerId, engines }));
  const port = await listen(server, o.port, o.host);
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    workerId,
    engines,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await engines.close();
      })();
      return closing;
    },
  };
}

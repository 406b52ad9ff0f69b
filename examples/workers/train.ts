/**
 * Training-side example of Arbiter's workers through the TypeScript client (clients/typescript/arbiter-scheduler.ts),
 * the twin of train.py: two workers running the node worker runtime (`arbiter worker`), waited for, the example
 * engine (echo_engine.mjs#EchoEngine) created in each and called — positional arguments, keyword arguments, an
 * exception raised by the engine — then deleted. With Arbiter running (local backend) on this machine:
 *
 *     ARBITER_TOKEN=<token> npx tsx examples/workers/train.ts [--endpoint http://127.0.0.1:7070] [--gpu 1]
 *
 * The workers run on Arbiter's machine from its working directory: run Arbiter from this checkout.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ArbiterClientError, ArbiterScheduler, RemoteEngineError } from '../../clients/typescript/arbiter-scheduler.ts';

const { values } = parseArgs({
  options: {
    endpoint: { type: 'string', default: process.env.ARBITER_URL ?? 'http://127.0.0.1:7070' },
    expr: { type: 'string', default: 'echo-demo' },
    trial: { type: 'string', default: 'trial-ts' },
    gpu: { type: 'string', default: '0' },
    timeout: { type: 'string', default: '120' },
  },
});

// the reference API's client config: switching schedulers is a matter of this object
const scheduler = new ArbiterScheduler({ type: 'arbiter', endpoint: values.endpoint, expr_name: values.expr, trial_name: values.trial });
const bin = fileURLToPath(new URL('../../bin/arbiter.js', import.meta.url));
await scheduler.create_workers({ replicas: 2, specs: [{ cpu: 500, gpu: Number(values.gpu), mem: 512, cmd: [process.execPath, bin, 'worker'] }] });
let code = 0;
try {
  const workers = await scheduler.get_workers(Number(values.timeout));
  for (const w of workers) {
    console.log(`${w.id} running at ${w.host}:${w.port} on GPUs [${w.gpus.join(', ')}]`);
    await scheduler.create_engine(w.id, 'examples/workers/echo_engine.mjs#EchoEngine', { tag: w.id });
    console.log('  add(2, 3) =', await scheduler.call_engine(w.id, 'add', 2, 3));
    console.log("  greet('Ada', {greeting: 'hi'}) =", await scheduler.call_engine_kw(w.id, 'greet', ['Ada'], { greeting: 'hi' }));
    console.log('  info() =', JSON.stringify(await scheduler.call_engine(w.id, 'info')));
  }
  try {
    await scheduler.call_engine(workers[0]!.id, 'fail', 'failed on purpose');
  } catch (err) {
    if (!(err instanceof RemoteEngineError)) throw err;
    console.log(`the engine raised ${err.remoteType}: ${err.message}`);
  }
} catch (err) {
  if (!(err instanceof ArbiterClientError) || err.code !== 'not_ready') throw err;
  for (const d of err.details as { id: string; state: string; why: string }[]) console.log(`not ready: ${d.id} ${d.state} (${d.why})`);
  code = 1;
} finally {
  await scheduler.delete_workers();
}
process.exitCode = code;

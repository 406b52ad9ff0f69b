/**
 * `arbiter worker`: run a worker until SIGTERM/SIGINT — the node runtime of the worker contract, the program a
 * worker's `cmd` starts to hold a JavaScript engine. Prints one line on stdout when it listens
 * (`Worker <id> listening on http://host:port (runtime node)`); a bad option is one line on stderr and exit 2. On
 * SIGTERM it stops listening, closes its engine (awaited: a second signal exits at once, with 1) and exits 0.
 */
import { startWorker } from './runtime.ts';
import { WorkerOptionsError, workerOptionsFrom } from './options.ts';

const say = (line: string) => process.stderr.write(`arbiter worker: ${line}\n`);

/** @param flags the command's options as commander gives them (strings); `env` gives ARBITER_PORT, ARBITER_HOST, ARBITER_WORKER_ID */
export async function runWorkerCommand(flags: Record<string, unknown>, env: Record<string, string | undefined>): Promise<void> {
  let worker;
  try {
    worker = await startWorker({ ...workerOptionsFrom(flags, env), log: say });
  } catch (err) {
    say(err instanceof Error ? err.message : String(err));
    process.exit(err instanceof WorkerOptionsError ? 2 : 1);
  }
  const id = worker.workerId === null ? '' : `${worker.workerId} `;
  process.stdout.write(`Worker ${id}listening on ${worker.url} (runtime node)\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    say(`${signal}, shutting down`);
    worker.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/**
 * `arbiter instance`: run a reference task instance until SIGTERM/SIGINT. Prints one line on stdout when it
 * listens (`Instance <id> listening on http://host:port (model M)`); a bad option is one line on stderr and exit 2.
 */
import { startInstance } from './instance.ts';
import { InstanceOptionsError, type InstanceOptions } from './options.ts';

const say = (line: string) => process.stderr.write(`arbiter instance: ${line}\n`);

/** @param flags the command's options as commander gives them (strings); the token defaults to ARBITER_TOKEN */
export async function runInstanceCommand(flags: Record<string, unknown>, env: Record<string, string | undefined>): Promise<void> {
  let instance;
  try {
    instance = await startInstance({ ...(flags as InstanceOptions), token: (flags.token as string | undefined) ?? (env.ARBITER_TOKEN || undefined), log: say });
  } catch (err) {
    say(err instanceof Error ? err.message : String(err));
    process.exit(err instanceof InstanceOptionsError ? 2 : 1);
  }
  process.stdout.write(`Instance ${instance.instanceId} listening on ${instance.url} (model ${instance.model})\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}, shutting down`);
    setTimeout(() => process.exit(1), 3000).unref();
    instance.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

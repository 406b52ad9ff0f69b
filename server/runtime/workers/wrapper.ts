/**
 * The /bin/sh wrapper every local worker runs under, so that its exit status outlives Arbiter: it runs the user's
 * command in the foreground, waits for it, writes its status to `<id>.exit` and exits with it. The wrapper leads
 * the worker's process group, so every signal sent to the group reaches it too: it traps the usual ones with a
 * no-op (a trapped signal waits until the command has ended; the command itself gets the default action, since a
 * trap set to a command is not inherited) and so is never the first to die. SIGSTOP and SIGCONT need no
 * forwarding: the group gets them; only SIGKILL ends the wrapper before it writes the status.
 */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { Exit } from './backend.ts';

const WRAPPER = 'f=$1; shift; trap : HUP INT QUIT ABRT USR1 USR2 ALRM TERM; "$@"; s=$?; echo "$s" > "$f"; exit "$s"';

/** The arguments of `/bin/sh` that run `cmd` (a command line for /bin/sh -c, or an argv) under the wrapper. */
export function wrapperArgs(exitFile: string, cmd: string | readonly string[]): string[] {
  const argv = typeof cmd === 'string' ? ['/bin/sh', '-c', cmd] : [...cmd];
  return ['-c', WRAPPER, 'arbiter-worker', exitFile, ...argv];
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/**
 * A shell's exit status as an Exit: 128+N (N a signal) is death by that signal, the way the shell reports it —
 * so a command that itself exits 143 reads as ended by SIGTERM.
 */
export function exitOfStatus(status: number): Exit {
  const signal = status > 128 ? SIGNAL_NAMES.get(status - 128) : undefined;
  return signal ? { code: null, signal } : { code: status, signal: null };
}

/** The status the wrapper wrote; null when there is none (it was killed, or the file is not readable). */
export function readExitFile(path: string): number | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  return /^\d{1,3}\n?$/.test(text) ? Number(text.trim()) : null;
}

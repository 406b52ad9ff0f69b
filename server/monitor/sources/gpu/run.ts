/** One short nvidia-smi run (`--help-query-gpu`, `-q -x`): spawned, never exec'd synchronously, killed on timeout. */
import { spawn } from 'node:child_process';
import type { Clock } from '../../../clock.ts';

export class CommandNotFoundError extends Error {}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  clock: Clock;
  /** kills the command (stop of the source) */
  signal?: AbortSignal;
  /** largest stdout kept; more is an error (a -q -x of 8 GPUs is ≈ 0.5 MB). @default 32 MiB */
  maxBytes?: number;
}

export function runCommand(command: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], signal: opts.signal, killSignal: 'SIGKILL' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let bytes = 0;
    let timedOut = false;
    let settled = false;
    const max = opts.maxBytes ?? 32 * 1024 * 1024;
    const timer = opts.clock.setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    // the error listener first: a spawn that fails emits 'error', which must never be unhandled
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      reject(e.code === 'ENOENT' ? new CommandNotFoundError(`${command} not found`) : e);
    });
    // no pipes when the spawn failed (out of file descriptors): 'error' rejects
    child.stdout?.on('data', (b: Buffer) => {
      bytes += b.length;
      if (bytes > max) child.kill('SIGKILL');
      else out.push(b);
    });
    child.stderr?.on('data', (b: Buffer) => {
      if (err.length < 64) err.push(b);
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
  });
}

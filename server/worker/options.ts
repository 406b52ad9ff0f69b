/**
 * The options of a worker (`arbiter worker`), checked once (the CLI's strings, with the environment the backends
 * set, or a program's values), with their defaults. A bad one is named by its flag: `--port: Too big: …`.
 */
import { z } from 'zod';
import { fieldProblems, problemsText } from '../errors.ts';

/** A number, also written as a string (the command line's, the environment's). */
const numeric = (inner: z.ZodNumber) => z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), inner);

export const WorkerOptionsSchema = z.object({
  /** port to listen on; 0 = any free port (flag --port, else env ARBITER_PORT) */
  port: numeric(z.number({ error: (i) => (i.code !== 'invalid_type' ? undefined : i.input === undefined ? 'required (or env ARBITER_PORT)' : 'expected a number') }).int().min(0).max(65_535)),
  /** address to listen on (flag --host, else env ARBITER_HOST; containers need 0.0.0.0) @default 127.0.0.1 */
  host: z.string().min(1).default('127.0.0.1'),
  /** the worker's id, as Arbiter named it (env ARBITER_WORKER_ID) @default none */
  workerId: z.string().min(1).max(256).optional(),
});
export type WorkerOptions = z.input<typeof WorkerOptionsSchema>;
export type ResolvedWorkerOptions = z.output<typeof WorkerOptionsSchema>;

/** A bad option, each problem named by its flag. */
export class WorkerOptionsError extends Error {}

export function resolveWorkerOptions(input: WorkerOptions): ResolvedWorkerOptions {
  const parsed = WorkerOptionsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = fieldProblems(parsed.error).map((p) => ({ ...p, field: `--${p.field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` }));
  throw new WorkerOptionsError(problemsText(problems));
}

/** The options from the command line's flags and the environment a backend gives the worker: a flag wins. */
export function workerOptionsFrom(flags: Record<string, unknown>, env: Record<string, string | undefined>): WorkerOptions {
  return {
    port: (flags.port as string | undefined) ?? (env.ARBITER_PORT || undefined),
    host: (flags.host as string | undefined) ?? (env.ARBITER_HOST || undefined),
    workerId: env.ARBITER_WORKER_ID || undefined,
  } as WorkerOptions;
}

/**
 * The options of a reference instance, checked once (the CLI's strings or a program's values), with their defaults.
 * A bad one is named by its flag: `--port: Too big: …`.
 */
import { z } from 'zod';
import { fieldProblems, problemsText } from '../errors.ts';

const missing = (issue: { input?: unknown }) => (issue.input === undefined ? 'required' : undefined);
/** A number, also written as a string (the command line's). */
const numeric = (inner: z.ZodNumber) => z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), inner);
const number = () => z.number({ error: (i) => (i.code === 'invalid_type' ? (missing(i) ?? 'expected a number') : undefined) });

export const InstanceOptionsSchema = z.object({
  /** port to listen on; 0 = any free port */
  port: numeric(number().int().min(0).max(65_535)),
  /** address to listen on @default 127.0.0.1 */
  host: z.string().min(1).default('127.0.0.1'),
  /** the model it serves: tasks for another are refused */
  model: z.string({ error: missing }).min(1).max(256),
  /** the scheduler's base URL, for completion notices (and registration) */
  scheduler: z.url({ protocol: /^https?$/, error: (i) => missing(i) ?? 'expected an http:// or https:// URL' }),
  /** mean execution time of a task, ms @default 200 */
  execMsMean: numeric(number().min(0).max(1e9)).default(200),
  /** its standard deviation, ms @default 50 */
  execMsSd: numeric(number().min(0).max(1e9)).default(50),
  /** tasks run at once @default 1 */
  concurrency: numeric(number().int().min(1).max(10_000)).default(1),
  /** Bearer token of the scheduler's API */
  token: z.string().min(1).optional(),
  /** register with the scheduler at start, remove itself at stop @default false */
  register: z.boolean().default(false),
  /** the host the scheduler reaches it at @default --host, or 127.0.0.1 when that is a wildcard address */
  advertiseHost: z.string().min(1).max(253).optional(),
  /** @default a random UUID */
  instanceId: z.string().min(1).max(256).optional(),
  /** tasks held and completion notices the scheduler has not taken, together, at most; past it new tasks get 503 @default 10000 */
  maxPendingNotices: numeric(number().int().min(1).max(10_000_000)).default(10_000),
});
export type InstanceOptions = z.input<typeof InstanceOptionsSchema>;
export type ResolvedInstanceOptions = z.output<typeof InstanceOptionsSchema>;

/** A bad option, each problem named by its flag. */
export class InstanceOptionsError extends Error {}

export function resolveInstanceOptions(input: InstanceOptions): ResolvedInstanceOptions {
  const parsed = InstanceOptionsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = fieldProblems(parsed.error).map((p) => ({ ...p, field: `--${p.field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` }));
  throw new InstanceOptionsError(problemsText(problems));
}

/** The host the scheduler is told to reach the instance at. */
export function advertisedHost(o: ResolvedInstanceOptions): string {
  if (o.advertiseHost) return o.advertiseHost;
  return o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host;
}

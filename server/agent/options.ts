/**
 * The options of an agent (`arbiter agent`) beyond its monitor's (config.ts NODE_MONITOR_OPTIONS), checked once,
 * with their defaults: the hub, the agent token, the ack timeout, and the node's name. A bad one is named by its
 * flag (`--hub: …`); no message repeats the token.
 */
import { z } from 'zod';
import { NodeNameSchema } from '../../shared/agents.ts';
import { fieldProblems, problemsText } from '../errors.ts';

/** A number, also written as a string (the command line's). */
const numeric = (inner: z.ZodNumber) => z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), inner);
const missing = (issue: { input?: unknown }) => (issue.input === undefined ? 'required' : undefined);

/** The hub's base URL: http(s)://host:port, nothing after it (the agents' namespace is added to it). */
const HubUrlSchema = z
  .url({ protocol: /^https?$/, error: (i) => missing(i) ?? 'expected an http:// or https:// URL' })
  .refine((u) => { const url = new URL(u); return url.pathname === '/' && !url.search && !url.hash; }, "expected the hub's base URL, e.g. http://hub:7070 (no path)")
  .transform((u) => new URL(u).origin);

export const AgentOptionsSchema = z.object({
  /** the hub's base URL */
  hub: HubUrlSchema,
  /** the hub's agent token (--token, else env ARBITER_AGENT_TOKEN); at least 16 characters, as the hub's --agent-token */
  token: z.string({ error: (i) => (i.input === undefined ? 'required (or env ARBITER_AGENT_TOKEN)' : undefined) })
    .min(16, 'at least 16 characters (the hub\'s --agent-token)').max(1024, 'at most 1024 characters'),
  /** how long a snapshot waits for the hub's ack before it is sent again, ms @default 10000 */
  ackTimeoutMs: numeric(z.number({ error: (i) => (i.code === 'invalid_type' ? 'expected a number' : undefined) }).int().min(100).max(600_000)).default(10_000),
  /** where the hub reaches the ports of this node's workers @default the address the hub sees the agent connect from */
  advertiseHost: z.string().min(1).max(255).regex(/^[A-Za-z0-9.:\[\]_-]+$/, 'a host name or an IP address').optional(),
  /** where the workers' logs, exit statuses and state are kept @default ./.arbiter-agent */
  dataDir: z.string().min(1).default('./.arbiter-agent'),
  /** false (--no-workers): this agent runs no workers, it only reports its node @default true */
  workers: z.boolean().default(true),
});
export type AgentOptions = z.input<typeof AgentOptionsSchema>;
export type ResolvedAgentOptions = z.output<typeof AgentOptionsSchema>;

/** A bad option, each problem named by its flag. */
export class AgentOptionsError extends Error {}

const flagOf = (field: string) => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export function resolveAgentOptions(input: AgentOptions): ResolvedAgentOptions {
  const parsed = AgentOptionsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new AgentOptionsError(problemsText(fieldProblems(parsed.error).map((p) => ({ ...p, field: flagOf(p.field) }))));
}

/**
 * The node's name: the one given (--node-name / ARBITER_NODE_NAME), else the hostname; either must be a node name
 * the hub takes (NodeNameSchema). A hostname that is not one asks for --node-name.
 */
export function resolveNodeName(given: string | undefined, hostname: string): string {
  const name = given ?? hostname;
  const parsed = NodeNameSchema.safeParse(name);
  if (parsed.success) return parsed.data;
  const rule = parsed.error.issues[0]!.message;
  throw new AgentOptionsError(given !== undefined
    ? `--node-name ${JSON.stringify(given)}: ${rule}`
    : `this host's name ${JSON.stringify(hostname)} is not a node name (${rule}): give one with --node-name`);
}

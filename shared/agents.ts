/**
 * The agent ↔ hub protocol and the hub's view of its nodes. `arbiter agent` on each node connects to the hub's
 * socket.io namespace AGENT_NAMESPACE with `auth: AgentHello` (an agent token, distinct from the users' tokens);
 * the hub refuses the handshake with one of AGENT_HANDSHAKE_ERRORS, or answers `welcome`. The agent then streams
 * its node's snapshots (`snapshot`, each acknowledged by its `seq`), resends after a reconnect what the hub has
 * not acknowledged (welcome's `lastSeq`), and says `bye` before a clean stop. An agent that runs workers says so in
 * its hello (`workers`); the hub then starts on it the workers granted on its node (shared/agent-workers.ts).
 * GET /api/nodes answers NodesResponse: every node, the hub's own included unless it runs without one.
 */
import { z } from 'zod';
import { NODE_STATUSES } from './names.ts';
import {
  AgentWorkerOfferSchema, type AgentToHubWorkerEvents, type HubToAgentWorkerEvents,
} from './agent-workers.ts';
import { ResourceStatusSchema } from './resources.ts';

/** The socket.io namespace of agents (users' clients use the default one). */
export const AGENT_NAMESPACE = '/agents';

/**
 * Added to an agent's connection URL (`/socket.io/?agent=1&…`): the namespace is known only after the upgrade, so a
 * follower hub replica tells an agent's WebSocket from a user's by it and pipes the agent's to the leader.
 */
export const AGENT_QUERY = { agent: '1' } as const;

/** Whether an upgrade request's URL is an agent's (AGENT_QUERY). */
export function isAgentUpgrade(url: string | undefined): boolean {
  return new URLSearchParams((url ?? '').split('?')[1] ?? '').get('agent') === AGENT_QUERY.agent;
}

/** The protocol version this code speaks; a hello with another one is refused. 2: workers on agents. */
export const AGENT_PROTOCOL = 2;

/** A node's name as an agent gives it: letters, digits and `._-`, starting with a letter or digit, 1–63 characters. */
export const NodeNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits and . _ - only, starting with a letter or digit, at most 63 characters');

/** The handshake, sent as socket.io `auth`. */
export const AgentHelloSchema = z.strictObject({
  /** the hub's agent token (--agent-token) */
  token: z.string().min(1).max(1024),
  node: NodeNameSchema,
  /** new at every start of the agent: the hub tells a restarted agent from a reconnecting one */
  bootId: z.uuid(),
  /** the agent's Arbiter version */
  version: z.string().min(1).max(64),
  protocol: z.int().min(1),
  /** it runs workers (with these backends); absent: it only reports its node */
  workers: AgentWorkerOfferSchema.optional(),
});
export type AgentHello = z.infer<typeof AgentHelloSchema>;

/** Hub → agent, once the handshake is accepted. */
export const AgentWelcomeSchema = z.object({
  /** the node the hub registered the agent as */
  node: NodeNameSchema,
  protocol: z.int().min(1),
  /** the hub's clock (epoch ms), for the agent to see how far apart the two clocks are */
  hubNow: z.number(),
  /** the highest `seq` of this boot the hub has acknowledged; null: none (a new boot), send from the first */
  lastSeq: z.int().min(1).nullable(),
  /** the same for its `worker_state` messages; null: send every one it has not seen acknowledged */
  lastWorkerSeq: z.int().min(1).nullable().default(null),
});
export type AgentWelcome = z.infer<typeof AgentWelcomeSchema>;

/** Agent → hub: one snapshot of the agent's node; `seq` increases by one per snapshot within a boot. */
export const AgentSnapshotSchema = z.strictObject({
  seq: z.int().min(1),
  status: ResourceStatusSchema,
});
export type AgentSnapshot = z.infer<typeof AgentSnapshotSchema>;

/** The hub's acknowledgement of a snapshot: taken (up to `seq`), or refused with why. */
export const SnapshotAckSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), seq: z.int().min(1) }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
export type SnapshotAck = z.infer<typeof SnapshotAckSchema>;

/** Agent → hub before a clean stop: the node leaves, it has not failed. */
export const AgentByeSchema = z.strictObject({});
export type AgentBye = z.infer<typeof AgentByeSchema>;

/** socket.io event maps of the agents' namespace. */
export interface AgentToHubEvents extends AgentToHubWorkerEvents {
  snapshot: (msg: AgentSnapshot, ack: (res: SnapshotAck) => void) => void;
  bye: (msg: AgentBye) => void;
}
export type HubToAgentEvents = HubToAgentWorkerEvents & {
  welcome: (msg: AgentWelcome) => void;
};

/**
 * Why the hub refuses a handshake (the socket.io `connect_error` message), checked in this order. None of them
 * repeats the token.
 */
export const AGENT_HANDSHAKE_ERRORS = {
  /** the hub was started without --agent-token: it accepts no agent */
  disabled: 'agents disabled (start the hub with --agent-token)',
  /** a hello of a protocol version the hub does not speak (checked before the rest of the hello, which may differ) */
  protocol: (protocol: number) => `protocol ${protocol} unsupported`,
  /** a hello that is not AgentHelloSchema: the field and problem of each */
  invalidHello: (problems: string) => `invalid hello: ${problems}`,
  unauthorized: 'unauthorized agent token',
} as const;

export type HandshakeErrorKind = keyof typeof AGENT_HANDSHAKE_ERRORS;

/** Which refusal a `connect_error` message is, for an agent to tell what to report; undefined: not a refusal. */
export function handshakeErrorKind(message: string): HandshakeErrorKind | undefined {
  const E = AGENT_HANDSHAKE_ERRORS;
  if (message === E.disabled) return 'disabled';
  if (message === E.unauthorized) return 'unauthorized';
  if (message.startsWith(E.invalidHello(''))) return 'invalidHello';
  if (/^protocol -?\d+ unsupported$/.test(message)) return 'protocol';
  return undefined;
}

/**
 * Read a hello: a protocol other than AGENT_PROTOCOL is refused first, then the shape (each bad field named, never
 * its value). The token is the hub's to compare (in constant time), after this.
 */
export function readAgentHello(auth: unknown): { ok: true; hello: AgentHello } | { ok: false; error: string } {
  const protocol = typeof auth === 'object' && auth !== null && 'protocol' in auth ? auth.protocol : undefined;
  if (typeof protocol === 'number' && Number.isInteger(protocol) && protocol !== AGENT_PROTOCOL) {
    return { ok: false, error: AGENT_HANDSHAKE_ERRORS.protocol(protocol) };
  }
  const parsed = AgentHelloSchema.safeParse(auth);
  if (parsed.success) return { ok: true, hello: parsed.data };
  const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(hello)'}: ${i.message}`).join('; ');
  return { ok: false, error: AGENT_HANDSHAKE_ERRORS.invalidHello(problems) };
}

const amount = z.int().min(0);

/** One node as GET /api/nodes shows it. */
export const NodeViewSchema = z.object({
  name: z.string().min(1),
  /** the hub's own node (monitored in its process), not an agent's */
  local: z.boolean(),
  /** unreachable: its agent has not reported for --unreachable-after-ms (its allocations stay, flagged) */
  status: z.enum(NODE_STATUSES),
  /** when its last snapshot arrived (epoch ms); null: none since the hub started */
  lastSeenAt: z.number().nullable(),
  /** an agent is connected for it now (the local node: always true) */
  connected: z.boolean(),
  /** what it has, from its latest snapshot (or the declared inventory); cpu and memory null before a host sample */
  capacity: z.object({ cpu: amount.nullable(), memoryMiB: amount.nullable(), gpus: amount }),
  /** what its live allocations hold; `gpuMemMiB` summed over fractional shares */
  allocated: z.object({ cpu: amount, memoryMiB: amount, gpus: amount, gpuMemMiB: amount, allocations: amount }),
}).meta({ id: 'NodeView' });
export type NodeView = z.infer<typeof NodeViewSchema>;

export const NodesResponseSchema = z.object({ nodes: z.array(NodeViewSchema) }).meta({ id: 'NodesResponse' });
export type NodesResponse = z.infer<typeof NodesResponseSchema>;

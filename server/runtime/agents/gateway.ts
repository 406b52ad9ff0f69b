/**
 * Agents join the hub on the socket.io namespace AGENT_NAMESPACE of its HTTP port, with their own token (never a
 * user's): the handshake is read (protocol first, then the hello; refusals as AGENT_HANDSHAKE_ERRORS, the token
 * never repeated), the agent is welcomed with the last seq of its boot the hub has, and each snapshot of its node
 * goes to the engine (the node's inventory), to the registry and to every client (`resource_status` of that node),
 * then is acknowledged once the engine's changes are durable. A resend of a snapshot already taken is acknowledged
 * again and dropped; a snapshot of another node than the hello's is refused. An agent that runs workers is handed
 * to the worker channel (worker-channel.ts), which takes its reports and carries the hub's calls to it.
 */
import type { Namespace } from 'socket.io';
import {
  AGENT_HANDSHAKE_ERRORS, AGENT_NAMESPACE, AGENT_PROTOCOL, AgentSnapshotSchema, readAgentHello,
  type AgentHello, type AgentToHubEvents, type HubToAgentEvents, type SnapshotAck,
} from '../../../shared/agents.ts';
import type { ResourceStatus } from '../../../shared/resources.ts';
import type { Clock } from '../../clock.ts';
import type { Logger } from '../../log.ts';
import type { NodeRegistry } from './registry.ts';
import type { AgentWorkerChannelImpl } from './worker-channel.ts';

export interface AgentGatewayOptions {
  registry: NodeRegistry;
  clock: Clock;
  log: Logger;
  /** whether the agent token matches (constant time); undefined: the hub takes no agents */
  checkToken?: (token: string) => boolean;
  /** the node's snapshot into the engine and the push; resolves once the engine's changes are durable */
  take(status: ResourceStatus): Promise<void>;
  /** workers on agents: their calls and reports */
  workers?: AgentWorkerChannelImpl;
}

interface AgentData {
  hello?: AgentHello;
}

export class AgentGateway {
  private readonly ns: Namespace<AgentToHubEvents, HubToAgentEvents, Record<string, never>, AgentData>;

  /** `namespace` gives the socket.io namespace of that name on the hub's server (SocketServer.namespace). */
  constructor(namespace: (name: string) => Namespace, private readonly o: AgentGatewayOptions) {
    this.ns = namespace(AGENT_NAMESPACE) as unknown as typeof this.ns;
    this.ns.use((socket, next) => {
      if (!o.checkToken) return next(new Error(AGENT_HANDSHAKE_ERRORS.disabled));
      const read = readAgentHello(socket.handshake.auth);
      if (!read.ok) return next(new Error(read.error));
      if (!o.checkToken(read.hello.token)) return next(new Error(AGENT_HANDSHAKE_ERRORS.unauthorized));
      socket.data.hello = read.hello;
      next();
    });
    this.ns.on('connection', (socket) => {
      const hello = socket.data.hello!;
      const { node, bootId } = hello;
      // a newer connection of the same node replaces an older one (the token is trusted)
      for (const other of this.ns.sockets.values()) {
        if (other.id !== socket.id && other.data.hello?.node === node) other.disconnect(true);
      }
      const lastSeq = o.registry.connected(node, bootId, hello.version);
      o.log.info({ node, version: hello.version }, 'agent connected');
      const lastWorkerSeq = o.workers?.lastSeq(node, bootId) ?? null;
      o.workers?.connected(socket, hello);
      socket.emit('welcome', { node, protocol: AGENT_PROTOCOL, hubNow: o.clock.now(), lastSeq, lastWorkerSeq });
      socket.on('snapshot', (msg, ack) => {
        void this.snapshot(hello, msg).then((res) => typeof ack === 'function' && ack(res));
      });
      socket.on('bye', () => {
        o.log.info({ node }, 'agent left');
        o.registry.left(node);
      });
      socket.on('disconnect', () => o.registry.disconnected(node, bootId));
    });
  }

  get agentCount(): number {
    return this.ns.sockets.size;
  }

  async close(): Promise<void> {
    this.ns.disconnectSockets(true);
  }

  private async snapshot(hello: AgentHello, msg: unknown): Promise<SnapshotAck> {
    const parsed = AgentSnapshotSchema.safeParse(msg);
    if (!parsed.success) return { ok: false, error: `invalid snapshot: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(snapshot)'}: ${i.message}`).join('; ')}` };
    const { seq, status } = parsed.data;
    if (status.node !== hello.node) return { ok: false, error: `a snapshot of node ${JSON.stringify(status.node)} from the agent of ${JSON.stringify(hello.node)}` };
    if (this.o.registry.taken(hello.node, hello.bootId, seq)) return { ok: true, seq };
    try {
      await this.o.take(status);
      this.o.registry.seen(hello.node, seq, status);
      return { ok: true, seq };
    } catch (err) {
      this.o.log.warn({ err, node: hello.node }, 'a node snapshot could not be taken');
      return { ok: false, error: 'the hub could not take it; it is sent again' };
    }
  }
}

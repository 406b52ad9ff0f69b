/**
 * The hub's side of agents on real sockets: agents (socket.io clients speaking shared/agents.ts, each sending
 * snapshots of a node with its own GPUs) join with the agent token; a hub without one, a wrong token and a bad hello
 * are refused with the protocol's messages. Three nodes then hold the hub's allocations (node and GPU indices in
 * each); GET /api/nodes lists them with the hub's own node; an agent that stops reporting makes its node
 * unreachable after --unreachable-after-ms — its allocations kept and flagged, a conflict opened — and when it
 * reports again with a GPU fewer the node is reachable, that conflict resolved and the missing GPU reported as one.
 * Each node's resource_status reaches clients. The registry's clock is a ManualClock: no test waits for time.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import { AGENT_NAMESPACE, AGENT_PROTOCOL, type AgentWelcome, type NodesResponse, type SnapshotAck } from '../../shared/agents.ts';
import type { ResourceStatus } from '../../shared/resources.ts';
import type { Allocation, Conflict } from '../../shared/scheduler.ts';
import { ManualClock } from '../../server/clock.ts';
import { fakeGpu } from '../helpers/fake-gpu.ts';
import { statusPayload } from '../helpers/payloads.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { until } from '../helpers/cli-server.ts';

const AGENT_TOKEN = 'agent-token-0123456789abcdef';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function hub(token: string | null = AGENT_TOKEN, localNode = true): Promise<{ s: TestServer; clock: ManualClock }> {
  const clock = new ManualClock(Date.now());
  const s = await startTestServer({
    clock,
    configure: (c) => {
      if (token) c.agents.token = token;
      c.agents.localNode = localNode;
      c.agents.unreachableAfterMs = 5000;
      // the hub's own node: no GPU
      c.resources = { cpu: 4000, memoryMiB: 8192, gpus: [] };
    },
  });
  cleanups.push(() => s.close());
  return { s, clock };
}

interface FakeAgent {
  socket: Socket;
  welcome: AgentWelcome;
  send(status: ResourceStatus, seq: number): Promise<SnapshotAck>;
}

/** An agent as a socket.io client; resolves once welcomed, rejects with the hub's refusal. */
function agent(s: TestServer, node: string, token = AGENT_TOKEN, hello: Record<string, unknown> = {}): Promise<FakeAgent> {
  const socket = io(`${s.url}${AGENT_NAMESPACE}`, {
    auth: { token, node, bootId: randomUUID(), version: 'test', protocol: AGENT_PROTOCOL, ...hello },
    transports: ['websocket'], reconnection: false,
  });
  cleanups.push(() => void socket.disconnect());
  return new Promise((resolve, reject) => {
    socket.once('connect_error', (err) => reject(err));
    socket.once('welcome', (welcome: AgentWelcome) => resolve({
      socket, welcome,
      send: (status, seq) => socket.timeout(5000).emitWithAck('snapshot', { seq, status }) as Promise<SnapshotAck>,
    }));
  });
}

const snapshot = (node: string, gpus: number): ResourceStatus =>
  statusPayload({ node, sampledAt: Date.now(), gpus: Array.from({ length: gpus }, (_, i) => fakeGpu(i, { uuid: `GPU-${node}-${i}`, processes: [] })) });

async function call<T>(s: TestServer, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${s.url}${path}`, {
    method, headers: { authorization: `Bearer ${s.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}

describe('agents joining the hub', () => {
  it('refuses agents without a hub agent token, with a wrong token, a user token or a bad hello', async () => {
    const closed = await hub(null);
    await expect(agent(closed.s, 'n1')).rejects.toThrow('agents disabled (start the hub with --agent-token)');
    const { s } = await hub();
    await expect(agent(s, 'n1', 'wrong-token-0123456789')).rejects.toThrow('unauthorized agent token');
    await expect(agent(s, 'n1', s.token)).rejects.toThrow('unauthorized agent token');
    await expect(agent(s, 'bad name!')).rejects.toThrow(/^invalid hello: node: /);
    await expect(agent(s, 'n1', AGENT_TOKEN, { protocol: 99 })).rejects.toThrow('protocol 99 unsupported');
    // and a user's client cannot use the agent token
    const user = io(s.url, { auth: { token: AGENT_TOKEN }, transports: ['websocket'], reconnection: false });
    cleanups.push(() => void user.disconnect());
    await expect(new Promise((_, reject) => user.once('connect_error', reject))).rejects.toThrow(/unauthorized/);
  });

  it('places across the agents’ nodes, lists them, and handles a node that stops reporting and comes back', async () => {
    const { s, clock } = await hub();
    const agents = await Promise.all(['n1', 'n2', 'n3'].map((n) => agent(s, n)));
    expect(agents.map((a) => a.welcome)).toEqual(['n1', 'n2', 'n3'].map((node) => ({ node, protocol: AGENT_PROTOCOL, hubNow: clock.now(), lastSeq: null, lastWorkerSeq: null })));
    for (const [k, a] of agents.entries()) expect(await a.send(snapshot(`n${k + 1}`, 2), 1)).toEqual({ ok: true, seq: 1 });
    // a resend of what was taken is acknowledged again; a snapshot of another node is refused
    expect(await agents[0]!.send(snapshot('n1', 2), 1)).toEqual({ ok: true, seq: 1 });
    expect(await agents[0]!.send(snapshot('n2', 2), 2)).toMatchObject({ ok: false, error: expect.stringMatching(/another node|of node "n2"/) });

    let nodes = (await call<NodesResponse>(s, 'GET', '/api/nodes')).body.nodes;
    expect(nodes.map((n) => [n.name, n.local, n.status, n.connected, n.capacity.gpus])).toEqual([
      [s.app.board.snapshot().node, true, 'reachable', true, 0], ['n1', false, 'reachable', true, 2], ['n2', false, 'reachable', true, 2], ['n3', false, 'reachable', true, 2],
    ]);

    // six one-GPU requests: every GPU of the three nodes, each allocation naming its node and GPU
    const granted: Allocation[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await call<{ allocation?: Allocation }>(s, 'POST', '/api/requests', { owner: `u${i}`, resources: { gpus: 1, cpu: 100 } });
      expect(r.status).toBe(201);
      granted.push(r.body.allocation!);
    }
    expect(granted.map((a) => `${a.node}:${a.gpuIndices.join(',')}`).sort()).toEqual(['n1:0', 'n1:1', 'n2:0', 'n2:1', 'n3:0', 'n3:1']);
    nodes = (await call<NodesResponse>(s, 'GET', '/api/nodes')).body.nodes;
    expect(nodes.filter((n) => !n.local).map((n) => n.allocated.gpus)).toEqual([2, 2, 2]);

    // n2 stops reporting (its connection drops; no bye): unreachable after 5 s, its allocations kept and flagged
    agents[1]!.socket.disconnect();
    await clock.advance(3000);
    for (const k of [0, 2]) expect(await agents[k]!.send(snapshot(`n${k + 1}`, 2), 2)).toEqual({ ok: true, seq: 2 });
    await clock.advance(3000);
    nodes = (await call<NodesResponse>(s, 'GET', '/api/nodes')).body.nodes;
    expect(nodes.map((n) => [n.name, n.status, n.connected]).slice(1)).toEqual([['n1', 'reachable', true], ['n2', 'unreachable', false], ['n3', 'reachable', true]]);
    const onN2 = granted.filter((a) => a.node === 'n2').map((a) => a.id);
    const active = (await call<{ allocations: Allocation[] }>(s, 'GET', '/api/allocations')).body.allocations;
    expect(active.filter((a) => a.node === 'n2').map((a) => [a.id, typeof a.unreachableSince])).toEqual(onN2.map((id) => [id, 'number']));
    const conflicts = (await call<{ items: Conflict[] }>(s, 'GET', '/api/conflicts?status=open')).body.items;
    const gone = conflicts.find((c) => c.key === 'unreachable:n2');
    expect(gone).toMatchObject({ type: 'schedule_conflict', status: 'open' });
    expect(gone!.holders.map((h) => (h.kind === 'allocation' ? h.allocationId : null)).sort()).toEqual([...onN2].sort());
    // nothing new is placed on it: a GPU request waits
    expect((await call(s, 'POST', '/api/requests', { owner: 'late', resources: { gpus: 1 } })).status).toBe(202);

    // n2 comes back with one GPU fewer: reachable, the unreachable conflict resolved, the missing GPU reported
    const back = await agent(s, 'n2');
    expect(back.welcome.lastSeq).toBeNull();
    expect(await back.send(snapshot('n2', 1), 1)).toEqual({ ok: true, seq: 1 });
    nodes = (await call<NodesResponse>(s, 'GET', '/api/nodes')).body.nodes;
    expect(nodes.find((n) => n.name === 'n2')).toMatchObject({ status: 'reachable', connected: true, capacity: { gpus: 1 } });
    const after = (await call<{ items: Conflict[] }>(s, 'GET', '/api/conflicts?status=all')).body.items;
    expect(after.find((c) => c.key === 'unreachable:n2')?.status).toBe('resolved');
    expect(after.filter((c) => c.status === 'open' && c.key.startsWith('missing:n2'))).toHaveLength(1);
    const flagged = (await call<{ allocations: Allocation[] }>(s, 'GET', '/api/allocations')).body.allocations.filter((a) => a.node === 'n2');
    expect(flagged.map((a) => a.unreachableSince ?? null)).toEqual([null, null]);
  });

  it('--no-local-node: only the agents’ nodes are listed and scheduled on', async () => {
    const { s } = await hub(AGENT_TOKEN, false);
    const a = await agent(s, 'n1');
    expect(await a.send(snapshot('n1', 1), 1)).toEqual({ ok: true, seq: 1 });
    const nodes = (await call<NodesResponse>(s, 'GET', '/api/nodes')).body.nodes;
    expect(nodes.map((n) => [n.name, n.local])).toEqual([['n1', false]]);
    // the hub's declared 4 cores are not a node: a request for them waits
    const cpu = await call<{ allocation?: Allocation }>(s, 'POST', '/api/requests', { owner: 'ana', resources: { cpu: 3000 } });
    expect(cpu.body.allocation?.node ?? null).not.toBe(s.app.board.snapshot().node);
    const gpu = await call<{ allocation?: Allocation }>(s, 'POST', '/api/requests', { owner: 'ana', resources: { gpus: 1 } });
    expect(gpu.body.allocation).toMatchObject({ node: 'n1', gpuIndices: [0] });
  });

  it('sends each node’s resource_status to clients, and the latest of every node to a new one', async () => {
    const { s } = await hub();
    const a = await agent(s, 'n1');
    await a.send(snapshot('n1', 1), 1);
    const client = io(s.url, { auth: { token: s.token, types: ['resource_status'] }, transports: ['websocket'], reconnection: false });
    cleanups.push(() => void client.disconnect());
    const seen: string[] = [];
    client.on('resource_status', (env: { data: ResourceStatus }) => seen.push(env.data.node));
    await until(() => (seen.includes('n1') ? true : undefined), 'n1 status backfilled', 5000);
    await a.send(snapshot('n1', 1), 2);
    await until(() => (seen.filter((n) => n === 'n1').length >= 2 ? true : undefined), 'n1 status pushed', 5000);
  });
});

/** The agent ↔ hub protocol (shared/agents.ts): the hello and its refusals, the messages, the nodes' view. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AGENT_HANDSHAKE_ERRORS, AGENT_PROTOCOL, AgentByeSchema, AgentHelloSchema, AgentSnapshotSchema, AgentWelcomeSchema,
  NodeNameSchema, NodesResponseSchema, NodeViewSchema, SnapshotAckSchema, handshakeErrorKind, readAgentHello, type NodeView,
} from '../../shared/agents.ts';
import { NODE_STATUSES } from '../../shared/names.ts';
import { statusPayload } from '../helpers/payloads.ts';

const TOKEN = 'agent-secret-0123456789abcdef';
const hello = (over: Record<string, unknown> = {}) => ({ token: TOKEN, node: 'gpu-01', bootId: randomUUID(), version: '0.9.0', protocol: AGENT_PROTOCOL, ...over });

function refusal(auth: unknown): string {
  const r = readAgentHello(auth);
  if (r.ok) throw new Error('accepted');
  expect(r.error).not.toContain(TOKEN); // never the token back, whatever was wrong
  return r.error;
}

describe('node names', () => {
  it('takes letters, digits and . _ -, starting with a letter or digit, up to 63 characters', () => {
    for (const ok of ['a', '7', 'gpu-01', 'node.lab_3', 'A-b.C_d', 'x'.repeat(63), '0.0']) expect(NodeNameSchema.safeParse(ok).success, ok).toBe(true);
  });

  it('refuses empty, leading punctuation, spaces, slashes, colons, non-ASCII and 64 characters', () => {
    for (const bad of ['', '-a', '.a', '_a', 'a b', 'a/b', 'a:b', 'nœud', 'x'.repeat(64), ' a', 'a\n']) {
      expect(NodeNameSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('the hello', () => {
  it('accepts a well-formed hello as it is', () => {
    const h = hello();
    expect(readAgentHello(h)).toEqual({ ok: true, hello: h });
    expect(AgentHelloSchema.parse(h)).toEqual(h);
  });

  it('refuses another protocol before looking at the rest (a newer hello may differ)', () => {
    expect(refusal(hello({ protocol: 1 }))).toBe('protocol 1 unsupported');
    expect(refusal({ protocol: 3, something: 'else' })).toBe('protocol 3 unsupported');
    expect(refusal(hello({ protocol: 0 }))).toBe('protocol 0 unsupported');
    expect(AGENT_HANDSHAKE_ERRORS.protocol(2)).toBe('protocol 2 unsupported');
  });

  it('names each bad field of a malformed hello, never the token', () => {
    expect(refusal(hello({ node: '-x' }))).toMatch(/^invalid hello: node: letters, digits/);
    expect(refusal(hello({ bootId: 'not-a-uuid' }))).toMatch(/^invalid hello: bootId: /);
    expect(refusal(hello({ token: '' }))).toMatch(/^invalid hello: token: /);
    expect(refusal(hello({ token: 42 }))).toMatch(/^invalid hello: token: /);
    expect(refusal(hello({ version: '' }))).toMatch(/^invalid hello: version: /);
    expect(refusal(hello({ protocol: '1' }))).toMatch(/^invalid hello: protocol: /);
    expect(refusal(hello({ protocol: 1.5 }))).toMatch(/^invalid hello: protocol: /);
    expect(refusal(hello({ extra: true }))).toMatch(/^invalid hello: .*extra/);
    const { token: _t, node: _n, ...rest } = hello();
    expect(refusal(rest)).toMatch(/^invalid hello: token: .*; node: /);
    for (const notAnObject of [null, undefined, 'hello', 1, []]) expect(refusal(notAnObject)).toMatch(/^invalid hello: \(hello\): /);
  });

  it('gives each refusal a constant message that an agent can tell apart', () => {
    expect(AGENT_HANDSHAKE_ERRORS.disabled).toBe('agents disabled (start the hub with --agent-token)');
    expect(AGENT_HANDSHAKE_ERRORS.unauthorized).toBe('unauthorized agent token');
    expect(handshakeErrorKind(AGENT_HANDSHAKE_ERRORS.disabled)).toBe('disabled');
    expect(handshakeErrorKind(AGENT_HANDSHAKE_ERRORS.unauthorized)).toBe('unauthorized');
    expect(handshakeErrorKind(refusal(hello({ node: '' })))).toBe('invalidHello');
    expect(handshakeErrorKind(refusal(hello({ protocol: 7 })))).toBe('protocol');
    for (const other of ['xhr poll error', 'timeout', 'unauthorized: missing or wrong token', '']) expect(handshakeErrorKind(other)).toBeUndefined();
  });
});

describe('the messages', () => {
  it('welcome: the node, the protocol, the hub\'s clock and the last acknowledged seq or null', () => {
    const w = { node: 'gpu-01', protocol: 1, hubNow: 1_700_000_000_000, lastSeq: null };
    expect(AgentWelcomeSchema.parse(w)).toEqual({ ...w, lastWorkerSeq: null });
    expect(AgentWelcomeSchema.parse({ ...w, lastWorkerSeq: 7 }).lastWorkerSeq).toBe(7);
    expect(AgentWelcomeSchema.parse({ ...w, lastSeq: 41 }).lastSeq).toBe(41);
    for (const lastSeq of [0, -1, 1.5, undefined]) expect(AgentWelcomeSchema.safeParse({ ...w, lastSeq }).success, String(lastSeq)).toBe(false);
  });

  it('snapshot: a seq from 1 and a valid resource status', () => {
    const s = { seq: 1, status: statusPayload({ node: 'gpu-01' }) };
    expect(AgentSnapshotSchema.parse(s)).toEqual(s);
    expect(AgentSnapshotSchema.safeParse({ ...s, seq: 0 }).success).toBe(false);
    expect(AgentSnapshotSchema.safeParse({ ...s, seq: 2.5 }).success).toBe(false);
    expect(AgentSnapshotSchema.safeParse({ seq: 3, status: { node: 'gpu-01' } }).success).toBe(false);
  });

  it('ack: ok with the seq taken, or not ok with why; bye is empty', () => {
    expect(SnapshotAckSchema.parse({ ok: true, seq: 5 })).toEqual({ ok: true, seq: 5 });
    expect(SnapshotAckSchema.parse({ ok: false, error: 'node mismatch' })).toEqual({ ok: false, error: 'node mismatch' });
    expect(SnapshotAckSchema.safeParse({ ok: true }).success).toBe(false);
    expect(SnapshotAckSchema.safeParse({ ok: false }).success).toBe(false);
    expect(AgentByeSchema.parse({})).toEqual({});
    expect(AgentByeSchema.safeParse({ reason: 'x' }).success).toBe(false);
  });
});

describe('GET /api/nodes', () => {
  const node = (over: Partial<NodeView> = {}): NodeView => ({
    name: 'gpu-01', local: false, status: 'reachable', lastSeenAt: 1_700_000_000_000, connected: true,
    capacity: { cpu: 64_000, memoryMiB: 515_000, gpus: 8 },
    allocated: { cpu: 8000, memoryMiB: 32_768, gpus: 2, gpuMemMiB: 4096, allocations: 3 },
    ...over,
  });

  it('lists every node with reachability, capacity and what is allocated', () => {
    const body = { nodes: [node({ name: 'hub', local: true }), node({ status: 'unreachable', connected: false }), node({ name: 'new', lastSeenAt: null, capacity: { cpu: null, memoryMiB: null, gpus: 0 } })] };
    expect(NodesResponseSchema.parse(body)).toEqual(body);
    expect(NodeViewSchema.shape.status.options).toEqual([...NODE_STATUSES]);
  });

  it('refuses other statuses, negative or fractional amounts and missing parts', () => {
    expect(NodeViewSchema.safeParse({ ...node(), status: 'down' }).success).toBe(false);
    expect(NodeViewSchema.safeParse(node({ capacity: { cpu: -1, memoryMiB: 1, gpus: 0 } })).success).toBe(false);
    expect(NodeViewSchema.safeParse(node({ allocated: { cpu: 0, memoryMiB: 0, gpus: 0.5, gpuMemMiB: 0, allocations: 0 } })).success).toBe(false);
    const { allocated: _a, ...noAllocated } = node();
    expect(NodeViewSchema.safeParse(noAllocated).success).toBe(false);
    expect(NodesResponseSchema.safeParse({ nodes: [{ ...node(), name: '' }] }).success).toBe(false);
  });
});

/**
 * The agent's link (server/agent/link.ts) against a stand-in of the hub's /agents namespace on 127.0.0.1: numbered
 * snapshots with one in flight and newer ones coalesced, resends after a reconnect decided by welcome's lastSeq, a
 * refused handshake that ends the link, `bye` on stop, and the link's own reconnects.
 */
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AGENT_HANDSHAKE_ERRORS } from '../../shared/agents.ts';
import { ManualClock } from '../../server/clock.ts';
import { createLogger } from '../../server/log.ts';
import { AgentLink, type AgentLinkOptions, type LinkState } from '../../server/agent/link.ts';
import { StandInHub } from '../helpers/agent-hub.ts';
import { statusPayload } from '../helpers/payloads.ts';

const TOKEN = 'agent-link-token-0123456789';
const AT = 1_700_000_000_000;
/** The node's state at time i (told apart by sampledAt). */
const status = (i: number) => statusPayload({ node: 'n1', sampledAt: AT + i });

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function hub(opts: { token?: string; port?: number } = { token: TOKEN }): Promise<StandInHub> {
  const h = await StandInHub.start(opts);
  cleanups.push(() => h.close());
  return h;
}

/** A started link with short reconnection delays, and every state it reported. */
function link(url: string, over: Partial<AgentLinkOptions> = {}): { link: AgentLink; states: LinkState[]; reached: (state: LinkState['state'], n?: number) => Promise<void> } {
  const l = new AgentLink({
    hub: url, token: TOKEN, node: 'n1', ackTimeoutMs: 10_000, log: createLogger('silent'),
    reconnectionDelayMs: 20, reconnectionDelayMaxMs: 100, ...over,
  });
  const states: LinkState[] = [];
  const waiters = new Set<() => void>();
  l.onState((s) => {
    states.push(s);
    for (const w of [...waiters]) w();
  });
  /** Resolves once the link has reported `state` n times, woken by each report. */
  const reached = (state: LinkState['state'], n = 1) => new Promise<void>((resolve, reject) => {
    const check = () => {
      if (states.filter((s) => s.state === state).length < n) return;
      waiters.delete(check);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`${state} ×${n}: not reached in 10 s; states: ${states.map((s) => s.state).join(', ')}`));
    }, 10_000);
    waiters.add(check);
    check();
  });
  cleanups.push(() => l.stop());
  l.start();
  return { link: l, states, reached };
}

const seqs = (h: StandInHub) => h.snapshots().map((s) => s.seq);

describe('agent link: snapshots', () => {
  it('numbers snapshots 1, 2, … and, while one is in flight, keeps only the newest to send next', async () => {
    const h = await hub();
    const { link: l, reached } = link(h.url);
    await reached('connected');
    l.send(status(1));
    await h.until((e) => seqs(h).length === 1, 'snapshot 1');
    h.autoAck = false;
    l.send(status(2));
    await h.until(() => seqs(h).length === 2, 'snapshot 2');
    // 2 waits for its ack: 3, 4 and 5 replace one another, and only 5 goes once 2 is acknowledged
    l.send(status(3));
    l.send(status(4));
    l.send(status(5));
    h.autoAck = true;
    h.releaseAcks();
    await h.until(() => seqs(h).length === 3, 'the newest after the ack');
    expect(seqs(h)).toEqual([1, 2, 5]);
    expect(h.snapshots().map((s) => s.status.sampledAt)).toEqual([AT + 1, AT + 2, AT + 5]);
    expect(h.snapshots().every((s) => s.status.node === 'n1')).toBe(true);
    expect(h.ofType('connect')).toHaveLength(1);
  });

  it('sends the newest again when the hub does not acknowledge it in time', async () => {
    const h = await hub();
    h.autoAck = false;
    const { link: l, reached } = link(h.url, { ackTimeoutMs: 150 });
    await reached('connected');
    l.send(status(1));
    await h.until(() => seqs(h).length === 2, 'the same snapshot again after the timeout');
    h.autoAck = true;
    l.send(status(2));
    await h.until(() => seqs(h).includes(2), 'the next one');
    expect(seqs(h).filter((s) => s === 1).length).toBeGreaterThanOrEqual(2);
    expect(h.ofType('connect')).toHaveLength(1);
  });

  it('sends a snapshot the hub refused again after refusedRetryMs, on its clock', async () => {
    const h = await hub();
    const clock = new ManualClock(AT);
    h.refuse = 'the hub could not take it; it is sent again';
    const { link: l, reached } = link(h.url, { clock, refusedRetryMs: 1000 });
    await reached('connected');
    l.send(status(1));
    await h.until(() => seqs(h).length === 1, 'snapshot 1');
    await vi.waitFor(() => expect(clock.pendingTimers()).toBe(1), { interval: 5 });
    h.refuse = null;
    await clock.advance(1000);
    await h.until(() => seqs(h).length === 2, 'snapshot 1 again');
    expect(seqs(h)).toEqual([1, 1]);
    expect(h.acked.get(l.bootId)).toBe(1);
  });
});

describe('agent link: reconnects', () => {
  it('after a dropped connection resends the newest unacknowledged snapshot, and nothing the hub has (welcome.lastSeq)', async () => {
    const h = await hub();
    const { link: l, reached } = link(h.url);
    await reached('connected');
    l.send(status(1));
    await h.until(() => h.acked.get(l.bootId) === 1, 'snapshot 1 acknowledged');
    h.autoAck = false;
    l.send(status(2));
    await h.until(() => seqs(h).length === 2, 'snapshot 2, its ack withheld');
    h.dropConnections();
    await h.until(() => h.ofType('connect').length === 2 && seqs(h).length === 3, 'the reconnect and the resend');
    expect(h.ofType('connect')[1]!.lastSeq).toBe(1);
    expect(h.ofType('connect')[1]!.hello.bootId).toBe(l.bootId);
    expect(seqs(h)).toEqual([1, 2, 2]);

    // the hub took 2 but its ack was lost: its welcome says so, and 2 is not sent a third time
    h.welcomeLastSeq = () => 2;
    h.autoAck = true;
    h.dropConnections();
    await h.until(() => h.ofType('connect').length === 3, 'the second reconnect');
    l.send(status(3));
    await h.until(() => seqs(h).includes(3), 'snapshot 3');
    expect(seqs(h)).toEqual([1, 2, 2, 3]);
    await reached('connected', 3);
    await reached('down', 2);
  });

  it('after the hub restarted (lastSeq null) sends its newest snapshot again', async () => {
    const h = await hub();
    const { link: l, reached } = link(h.url);
    await reached('connected');
    l.send(status(1));
    await h.until(() => h.acked.get(l.bootId) === 1, 'snapshot 1 acknowledged');
    h.welcomeLastSeq = () => null;
    h.dropConnections();
    await h.until(() => seqs(h).length === 2, 'snapshot 1 again');
    expect(seqs(h)).toEqual([1, 1]);
  });

  it('reconnects by itself when the hub disconnects it (socket.io-client does not)', async () => {
    const h = await hub();
    const { link: l, reached, states } = link(h.url);
    await reached('connected');
    h.autoAck = false;
    l.send(status(1));
    await h.until(() => seqs(h).length === 1, 'snapshot 1');
    h.disconnectAgents();
    h.autoAck = true;
    await h.until(() => h.ofType('connect').length === 2 && seqs(h).length === 2, 'the reconnect and the resend');
    expect(seqs(h)).toEqual([1, 1]);
    await reached('connected', 2);
    expect(states.map((s) => s.state)).toEqual(['connected', 'down', 'connected']);
    expect(states[1]).toEqual({ state: 'down', reason: 'the hub closed the connection' });
  });

  it('reports a hub it cannot reach once, however often it retries, then connects when the hub is up', async () => {
    // a port that takes connections and closes them at once: every attempt fails, and is counted
    let attempts = 0;
    let threeAttempts!: () => void;
    const tried = new Promise<void>((r) => (threeAttempts = r));
    const refuser: Server = createServer((c) => {
      if (++attempts === 3) threeAttempts();
      c.destroy();
    });
    await new Promise<void>((r) => refuser.listen(0, '127.0.0.1', r));
    const port = (refuser.address() as AddressInfo).port;
    const { states, reached } = link(`http://127.0.0.1:${port}`);
    await tried;
    await new Promise<void>((r) => refuser.close(() => r()));
    await hub({ token: TOKEN, port });
    await reached('connected');
    expect(states.map((s) => s.state)).toEqual(['down', 'connected']);
    expect((states[1] as Extract<LinkState, { state: 'connected' }>).again).toBe(false);
  });
});

describe('agent link: the handshake and the end', () => {
  it('ends on a refused handshake with its kind, and does not retry', async () => {
    const h = await hub();
    const { link: l, states } = link(h.url, { token: 'not-the-agent-token-0000' });
    expect(await l.ended).toEqual({ state: 'refused', kind: 'unauthorized', message: AGENT_HANDSHAKE_ERRORS.unauthorized });
    expect(l.active).toBe(false);
    expect(h.ofType('handshake')).toEqual([{ type: 'handshake', error: AGENT_HANDSHAKE_ERRORS.unauthorized }]);
    expect(h.ofType('connect')).toEqual([]);
    expect(states.map((s) => s.state)).toEqual(['refused']);
  });

  it('tells a hub that takes no agents (disabled)', async () => {
    const h = await hub({});
    const { link: l } = link(h.url);
    expect(await l.ended).toMatchObject({ state: 'refused', kind: 'disabled' });
  });

  it('says bye on stop, then disconnects, and sends nothing more', async () => {
    const h = await hub();
    const { link: l, reached } = link(h.url);
    await reached('connected');
    l.send(status(1));
    await h.until(() => seqs(h).length === 1, 'snapshot 1');
    await l.stop();
    await h.until((e) => e.some((x) => x.type === 'disconnect'), 'the disconnect');
    expect(h.events.filter((e) => e.type === 'bye' || e.type === 'disconnect').map((e) => e.type)).toEqual(['bye', 'disconnect']);
    expect(await l.ended).toEqual({ state: 'stopped' });
    l.send(status(2));
    expect(l.active).toBe(false);
    expect(seqs(h)).toEqual([1]);
  });
});

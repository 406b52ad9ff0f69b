/**
 * The hub's node registry on a ManualClock: a node silent for unreachableAfterMs is declared unreachable once (a
 * disconnect alone changes nothing; a bye does at once), its next snapshot declares it reachable; a node known only
 * from restored allocations gets the same time from the hub's start; a resend of a taken seq is recognised per boot.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { createLogger } from '../../server/log.ts';
import { NodeRegistry } from '../../server/runtime/agents/registry.ts';
import { statusPayload } from '../helpers/payloads.ts';

function registry(known: string[] = ['hub']) {
  const clock = new ManualClock(1_000);
  const calls: [string, boolean][] = [];
  const engine = { nodes: () => known, setNodeReachable: (n: string, r: boolean) => (calls.push([n, r]), []) };
  const reg = new NodeRegistry({ engine, clock, log: createLogger('silent'), unreachableAfterMs: 5000, localNode: 'hub' });
  reg.start();
  return { clock, calls, reg, known };
}

describe('NodeRegistry', () => {
  it('declares a silent node unreachable once, and reachable again at its next snapshot', async () => {
    const { clock, calls, reg, known } = registry();
    expect(reg.connected('n1', 'boot-1', '1.0')).toBeNull();
    reg.seen('n1', 1, statusPayload({ node: 'n1' }));
    known.push('n1');
    // a disconnect alone changes nothing
    reg.disconnected('n1', 'boot-1');
    await clock.advance(4900);
    expect(calls).toEqual([]);
    await clock.advance(1200);
    expect(calls).toEqual([['n1', false]]);
    expect(reg.get('n1')).toMatchObject({ state: 'unreachable', connected: false });
    await clock.advance(20_000);
    expect(calls).toEqual([['n1', false]]);
    // back: the same boot's next seq
    expect(reg.connected('n1', 'boot-1', '1.0')).toBe(1);
    expect(reg.taken('n1', 'boot-1', 1)).toBe(true);
    reg.seen('n1', 2, statusPayload({ node: 'n1' }));
    expect(calls).toEqual([['n1', false], ['n1', true]]);
    // a new boot starts its seq again
    expect(reg.connected('n1', 'boot-2', '1.1')).toBeNull();
    expect(reg.taken('n1', 'boot-2', 1)).toBe(false);
  });

  it('a bye makes the node unreachable at once; the hub’s own node is never its business', async () => {
    const { clock, calls, reg, known } = registry();
    known.push('n1');
    reg.connected('n1', 'b', '1');
    reg.seen('n1', 1, statusPayload({ node: 'n1' }));
    reg.left('n1');
    expect(calls).toEqual([['n1', false]]);
    await clock.advance(60_000);
    expect(calls).toEqual([['n1', false]]);
    expect(reg.get('hub')).toBeUndefined();
  });

  it('a node known from restored allocations is pending for unreachableAfterMs from the start, then unreachable', async () => {
    const { clock, calls, reg } = registry(['hub', 'restored']);
    expect(reg.get('restored')).toMatchObject({ state: 'pending', lastSeenAt: null });
    await clock.advance(4000);
    expect(calls).toEqual([]);
    await clock.advance(1500);
    expect(calls).toEqual([['restored', false]]);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { loadConfig } from '../../server/config.ts';
import { loadPolicyModule } from '../../server/runtime/policy-module.ts';
import { DispatchError, Dispatcher } from '../../server/workloads/dispatch/dispatcher.ts';

const EXAMPLE = new URL('../../examples/dispatch-policy.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'arbiter-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the custom routing policy (--dispatch-policy-module)', () => {
  it('loads the example and routes by expected wait + 2 × error', async () => {
    const make = (await loadPolicyModule(EXAMPLE))!;
    const p = make();
    expect(p.name).toBe('pessimistic_shortest_queue');
    const chosen = p.choose('llm', [
      { id: 'steady', waitMs: 1000, waitSdMs: 100, weight: 1 },
      { id: 'erratic', waitMs: 900, waitSdMs: 500, weight: 1 },
    ], Math.random);
    expect(chosen.id).toBe('steady');
  });

  it('is selected as `custom` in the dispatcher; without a module that is a 422', async () => {
    const clock = new ManualClock();
    const make = (await loadPolicyModule(EXAMPLE))!;
    const d = new Dispatcher({ clock, customPolicy: make, policy: 'custom' });
    expect(d.policyInForce).toBe('custom');
    const bare = new Dispatcher({ clock });
    try {
      bare.setPolicy('custom');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DispatchError);
      expect((e as DispatchError).status).toBe(422);
    }
    expect(bare.policyInForce).toBe('shortest_queue');
  });

  it('refuses a module that does not make a policy, saying why, and `custom` without a module at start', async () => {
    const bad = join(dir, 'bad.mjs');
    writeFileSync(bad, 'export default () => ({ name: "x" });\n');
    await expect(loadPolicyModule(bad)).rejects.toThrow(/must return \{name, choose/);
    await expect(loadPolicyModule(join(dir, 'missing.mjs'))).rejects.toThrow(/cannot load it/);
    expect(() => loadConfig({}, { ARBITER_DISPATCH_POLICY: 'custom' })).toThrow(/needs --dispatch-policy-module/);
  });
});

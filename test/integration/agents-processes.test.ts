/**
 * A hub and two agents as the programs a lab runs: `arbiter serve --agent-token` (no GPU of its own) and two
 * `arbiter agent` processes, each monitoring GPUs through the nvidia-smi stand-in replaying a real capture (4 K80s,
 * 2 RTX 2080 Ti). The hub places GPU requests on the agents' nodes; one agent is killed with -9 (no bye): its node
 * becomes unreachable after --unreachable-after-ms, its allocations stay (flagged) and a conflict names them; a new
 * agent process for that node makes it reachable again and resolves the conflict.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { NodesResponse } from '../../shared/agents.ts';
import type { Allocation, Conflict } from '../../shared/scheduler.ts';
import { exited, freePort, spawnAgent, startCliServer, until } from '../helpers/cli-server.ts';

const AGENT_TOKEN = 'agents-processes-token-0123456789';
const USER_TOKEN = 'agents-processes-user-token-01';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const agent = (hub: string, node: string, capture: string): ChildProcess =>
  spawnAgent({ hub, node, capture, token: AGENT_TOKEN, onCleanup: (fn) => cleanups.push(fn) });

describe('a hub and its agents as processes', () => {
  it('places on the agents’ GPUs; an agent killed with -9 leaves its node unreachable (allocations kept, a conflict), a new one brings it back', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-agents-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const configFile = join(dataDir, 'arbiter.yaml');
    writeFileSync(configFile, 'resources:\n  cpu: 4000\n  memoryMiB: 8192\n  gpus: []\n');
    const port = await freePort();
    const hub = `http://127.0.0.1:${port}`;
    const server = await startCliServer({
      port, dataDir, token: USER_TOKEN, args: ['--config', configFile, '--agent-token', AGENT_TOKEN, '--unreachable-after-ms', '2000'], onCleanup: (fn) => cleanups.push(fn),
    });
    cleanups.push(async () => {
      server.kill('SIGTERM');
      await exited(server);
    });
    const call = async <T>(method: string, path: string, body?: unknown): Promise<T> =>
      (await (await fetch(`${hub}${path}`, { method, headers: { authorization: `Bearer ${USER_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) })).json()) as T;
    const node = async (name: string) => (await call<NodesResponse>('GET', '/api/nodes')).nodes.find((n) => n.name === name);

    agent(hub, 'k80', 'pai-tesla-k80-x4-azure-v10-430.26.xml');
    let turing = agent(hub, 'turing', 'pai-rtx-2080ti-x2-v10-410.73.xml');
    await until(async () => ((await node('k80'))?.capacity.gpus === 4 && (await node('turing'))?.capacity.gpus === 2 ? true : undefined), 'both nodes with their GPUs', 30_000);

    // one-GPU requests until one waits: every free GPU of both nodes is taken (the K80 capture has processes on
    // some of its GPUs: those are in use by users the hub does not manage, not free)
    const placed: Allocation[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await call<{ allocation?: Allocation }>('POST', '/api/requests', { owner: `u${i}`, resources: { gpus: 1, cpu: 100 } });
      if (!r.allocation) break;
      placed.push(r.allocation);
    }
    expect(placed.length).toBeGreaterThanOrEqual(3);
    expect(placed.filter((a) => a.node === 'turing').map((a) => a.gpuIndices[0]).sort()).toEqual([0, 1]);
    expect(placed.every((a) => a.node === 'k80' || a.node === 'turing')).toBe(true);

    turing.kill('SIGKILL');
    await exited(turing);
    await until(async () => ((await node('turing'))?.status === 'unreachable' ? true : undefined), 'turing unreachable', 20_000);
    const open = (await call<{ items: Conflict[] }>('GET', '/api/conflicts?status=open')).items.find((c) => c.key === 'unreachable:turing');
    const onTuring = placed.filter((a) => a.node === 'turing').map((a) => a.id).sort();
    expect(open?.holders.map((h) => (h.kind === 'allocation' ? h.allocationId : '')).sort()).toEqual(onTuring);
    const active = (await call<{ allocations: Allocation[] }>('GET', '/api/allocations')).allocations;
    expect(active.filter((a) => a.node === 'turing').map((a) => a.id).sort()).toEqual(onTuring);
    expect((await node('k80'))?.status).toBe('reachable');

    turing = agent(hub, 'turing', 'pai-rtx-2080ti-x2-v10-410.73.xml');
    await until(async () => ((await node('turing'))?.status === 'reachable' ? true : undefined), 'turing back', 30_000);
    const all = (await call<{ items: Conflict[] }>('GET', '/api/conflicts?status=all')).items;
    expect(all.find((c) => c.key === 'unreachable:turing')?.status).toBe('resolved');
  }, 120_000);
});

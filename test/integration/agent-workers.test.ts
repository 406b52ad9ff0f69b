/**
 * Workers on an agent's node, as the programs a lab runs: `arbiter serve --no-local-node --agent-token` (the hub is
 * no node of its own) and one `arbiter agent` process monitoring two GPUs through the nvidia-smi stand-in. A
 * `POST /api/workers` of two GPU replicas (`arbiter worker`) is granted on the agent's node and started by the agent:
 * each runs under the agent, answers /health at the agent's host, and takes an engine call through the hub. The
 * agent is killed with -9; meanwhile one worker is ended (by its pid); a new agent process with the same data dir
 * takes the other back and reports how the ended one ended (the status its wrapper left), and the hub's book says
 * so. DELETE stops the survivor: its process is gone.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { InventoryItem } from '../../shared/agent-workers.ts';
import type { NodesResponse } from '../../shared/agents.ts';
import type { Worker } from '../../shared/workers.ts';
import { exited, freePort, procState, spawnAgent, startCliServer, until } from '../helpers/cli-server.ts';

const REPO = new URL('../..', import.meta.url).pathname;
const BIN = join(REPO, 'bin/arbiter.js');
const AGENT_TOKEN = 'agent-workers-token-0123456789';
const USER_TOKEN = 'agent-workers-user-token-0123';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const alive = (pid: number) => { const s = procState(pid); return s !== null && s !== 'Z'; };

const agent = (hub: string, dataDir: string): ChildProcess => spawnAgent({
  hub, node: 'gpu-a', capture: 'pai-rtx-2080ti-x2-v10-410.73.xml', token: AGENT_TOKEN, onCleanup: (fn) => cleanups.push(fn),
  args: ['--data-dir', dataDir, '--advertise-host', '127.0.0.1', '--ack-timeout-ms', '2000'], cwd: REPO,
});

describe('workers on an agent’s node', () => {
  it('starts a granted worker under the agent, reconciles after the agent is killed with -9, and DELETE stops it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arbiter-agent-workers-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const agentDir = join(dir, 'agent');
    // nothing may outlive the test: every worker process group the agent recorded, by its pid
    cleanups.push(() => {
      let items: InventoryItem[] = [];
      try { items = JSON.parse(readFileSync(join(agentDir, 'workers.json'), 'utf8')) as InventoryItem[]; } catch { /* none */ }
      for (const i of items) if (i.running.ref.kind === 'local' && alive(i.running.ref.pid)) process.kill(-i.running.ref.pid, 'SIGKILL');
    });
    const port = await freePort();
    const hub = `http://127.0.0.1:${port}`;
    const server = await startCliServer({
      port, dataDir: join(dir, 'hub'), token: USER_TOKEN, onCleanup: (fn) => cleanups.push(fn),
      args: ['--agent-token', AGENT_TOKEN, '--no-local-node', '--unreachable-after-ms', '5000', '--worker-grace-ms', '3000'],
    });
    cleanups.push(async () => {
      server.kill('SIGTERM');
      await exited(server);
    });
    const call = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
      const res = await fetch(`${hub}${path}`, { method, headers: { authorization: `Bearer ${USER_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
      return { status: res.status, body: (await res.json()) as T };
    };
    const workers = async () => (await call<{ workers: Worker[] }>('GET', '/api/workers?name=remote')).body.workers;
    // the agent's own record of its workers (pid and start time of each), as a restarted agent reads it
    const kept = (): InventoryItem[] => JSON.parse(readFileSync(join(agentDir, 'workers.json'), 'utf8')) as InventoryItem[];
    const pidOf = (id: string) => {
      const ref = kept().find((i) => i.workerId === id)?.running.ref;
      if (ref?.kind !== 'local') throw new Error(`${id}: no local process in the agent's record`);
      return ref.pid;
    };

    let first = agent(hub, agentDir);
    await until(async () => ((await call<NodesResponse>('GET', '/api/nodes')).body.nodes.find((n) => n.name === 'gpu-a')?.capacity.gpus === 2 ? true : undefined), 'the agent’s node with its GPUs', 30_000);

    const made = await call<{ workers: Worker[] }>('POST', '/api/workers', { name: 'remote', replicas: 2, specs: [{ cpu: 100, gpu: 1, mem: 64, cmd: [process.execPath, BIN, 'worker'] }] });
    expect(made.status).toBe(202);
    const ready = await call<{ workers: Worker[] }>('GET', '/api/workers?name=remote&timeoutMs=60000');
    expect(ready.status).toBe(200);
    const [w0, w1] = ready.body.workers;
    expect(ready.body.workers.map((w) => [w.id, w.state, w.node, w.host])).toEqual([['remote-0', 'running', 'gpu-a', '127.0.0.1'], ['remote-1', 'running', 'gpu-a', '127.0.0.1']]);
    expect([...w0!.gpus, ...w1!.gpus].sort()).toEqual([0, 1]);
    for (const w of [w0!, w1!]) {
      const health = (await (await fetch(`http://${w.host}:${w.port}/health`)).json()) as { worker_id: string };
      expect(health.worker_id).toBe(w.id);
      expect(alive(pidOf(w.id))).toBe(true);
    }
    // the hub calls the worker on the agent's node
    expect((await call('POST', '/api/workers/remote-0/engine', { engine: 'examples/workers/echo_engine.mjs#EchoEngine' })).status).toBe(200);
    expect((await call<{ result: unknown }>('POST', '/api/workers/remote-0/call', { method: 'add', args: [2, 3] })).body.result).toBe(5);

    // the agent dies without a word; one worker is ended while no agent watches it
    const survivor = pidOf('remote-0');
    const victim = pidOf('remote-1');
    first.kill('SIGKILL');
    await exited(first);
    process.kill(-victim, 'SIGTERM');
    const exitFile = join(agentDir, 'workers', 'remote-1.exit');
    const status = await until(() => { try { return readFileSync(exitFile, 'utf8').trim(); } catch { return undefined; } }, 'the ended worker’s status', 20_000);
    expect(alive(survivor)).toBe(true);

    first = agent(hub, agentDir);
    const after = await until(async () => {
      const list = await workers();
      return list.find((w) => w.id === 'remote-1')?.state !== 'running' ? list : undefined;
    }, 'the ended worker reported by the new agent', 30_000);
    const ended = after.find((w) => w.id === 'remote-1')!;
    expect(ended.state).toBe(status === '0' ? 'exited' : 'failed');
    expect(ended.exit_code ?? null).toBe(Number(status) < 128 ? Number(status) : null);
    // its last lines came from the agent's node: what the worker said as it was stopped
    expect(ended.log_tail.join('\n')).toMatch(/SIGTERM/);
    expect(after.find((w) => w.id === 'remote-0')?.state).toBe('running');
    // the survivor was taken back, not started again
    expect(pidOf('remote-0')).toBe(survivor);
    expect(((await (await fetch(`http://127.0.0.1:${w0!.port}/health`)).json()) as { worker_id: string }).worker_id).toBe('remote-0');

    const deleted = await call<{ workers: Worker[] }>('DELETE', '/api/workers/remote');
    expect(deleted.status).toBe(200);
    expect(deleted.body.workers.find((w) => w.id === 'remote-0')?.state).toBe('stopped');
    await until(() => !alive(survivor), 'the survivor’s process gone', 20_000);
    expect(alive(victim)).toBe(false);
  }, 180_000);
});

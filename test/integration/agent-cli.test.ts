/**
 * `arbiter agent` as a program: the compiled CLI against a stand-in of the hub's /agents namespace on 127.0.0.1,
 * monitoring GPUs through the nvidia-smi stand-in replaying a real 4-GPU capture (test/fixtures/nvidia-smi/); and
 * once against a real hub (the app with an agent token), whose GET /api/nodes lists the agent's node.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureServerBuild } from '../../bin/build.js';
import { AGENT_HANDSHAKE_ERRORS, AGENT_PROTOCOL, type NodesResponse } from '../../shared/agents.ts';
import { VERSION } from '../../server/version.ts';
import { STAND_IN, fixture } from '../stand-ins/gpu-fixtures.ts';
import { StandInHub } from '../helpers/agent-hub.ts';
import { startTestServer } from '../helpers/server.ts';

const BIN = new URL('../../bin/arbiter.js', import.meta.url).pathname;
const TOKEN = 'agent-cli-token-0123456789abcdef';
const CAPTURE = fixture('pai-tesla-k80-x4-azure-v10-430.26.xml');
/** The capture's GPUs, read from the document itself. */
const UUIDS = [...readFileSync(CAPTURE, 'utf8').matchAll(/<uuid>([^<]+)<\/uuid>/g)].map((m) => m[1]);

/** The environment of a run: the capture, and none of the caller's ARBITER_* settings. */
function env(extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = { NVIDIA_SMI_FIXTURE: CAPTURE, ...extra };
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ARBITER_') && !k.startsWith('NVIDIA_SMI_') && v !== undefined) out[k] ??= v;
  return out;
}
const args = (hub: string, ...more: string[]) => ['agent', '--hub', hub, '--node-name', 'n1', '--no-docker', '--nvidia-smi', STAND_IN, '--log-level', 'warn', ...more];

/** Runs the CLI to its end without blocking this process (the stand-in hub answers from it). */
function run(argv: string[], environment: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...argv], { env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

let hub: StandInHub;
// the CLI runs the compiled server: compile it (when stale) first, so that no output holds the compiler's line
beforeAll(async () => {
  await ensureServerBuild(() => {});
  hub = await StandInHub.start({ token: TOKEN });
}, 120_000);
afterAll(() => hub.close());

describe('arbiter agent', () => {
  it("streams node n1 with the capture's GPUs, says it is connected, and on SIGTERM says bye and exits 0 quickly", async () => {
    expect(UUIDS).toHaveLength(4);
    const child = spawn(process.execPath, [BIN, ...args(hub.url, '--token', TOKEN)], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));

    await hub.until(() => hub.snapshots().some((s) => s.status.gpus.length === 4), 'a snapshot with the four GPUs', 20_000);
    const [connect] = hub.ofType('connect');
    expect(connect!.hello).toMatchObject({ node: 'n1', version: VERSION, protocol: AGENT_PROTOCOL, token: TOKEN });
    const snap = hub.snapshots().find((s) => s.status.gpus.length === 4)!;
    expect(snap.status.node).toBe('n1');
    expect(snap.status.gpus.map((g) => g.uuid)).toEqual(UUIDS);
    expect(snap.status.gpus.map((g) => g.name)).toEqual(Array(4).fill('Tesla K80'));
    expect(snap.status.gpus.map((g) => g.memoryTotalMiB)).toEqual(Array(4).fill(11441));
    expect(snap.status.sources.gpu!.status).toBe('ok');
    expect(snap.status.sources.docker).toBeUndefined();
    // numbered 1, 2, … in order
    const seqs = hub.snapshots().map((s) => s.seq);
    expect(seqs[0]).toBe(1);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(out).toMatch(new RegExp(`^agent n1 connected to ${hub.url}$`, 'm'));

    const signalledAt = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(2000);
    await hub.until((e) => e.some((x) => x.type === 'disconnect'), 'the disconnect');
    expect(hub.events.filter((e) => e.type === 'bye' || e.type === 'disconnect').map((e) => e.type)).toEqual(['bye', 'disconnect']);
    expect(out + err).not.toContain(TOKEN);
  }, 40_000);

  it('stops with exit 2 and the refusal when the hub refuses the token, never printing it', async () => {
    const wrong = 'not-the-hub-agent-token-42';
    const before = hub.ofType('handshake').length;
    const refused = await run(args(hub.url, '--token', wrong, '--no-gpu'), env());
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(`refused agent n1: ${AGENT_HANDSHAKE_ERRORS.unauthorized}`);
    expect(refused.stdout + refused.stderr).not.toContain(wrong);
    // refused once, not retried
    expect(hub.ofType('handshake').slice(before)).toEqual([{ type: 'handshake', error: AGENT_HANDSHAKE_ERRORS.unauthorized }]);
  }, 30_000);

  it('takes the token from ARBITER_AGENT_TOKEN, not from ARBITER_TOKEN (the API token)', async () => {
    const apiOnly = await run(args(hub.url, '--no-gpu'), env({ ARBITER_TOKEN: TOKEN }));
    expect(apiOnly.status).toBe(2);
    expect(apiOnly.stderr).toBe('arbiter agent: --token: required (or env ARBITER_AGENT_TOKEN)\n');
    expect(apiOnly.stdout).toBe('');

    const before = hub.ofType('connect').length;
    const child = spawn(process.execPath, [BIN, ...args(hub.url, '--no-gpu')], { env: env({ ARBITER_AGENT_TOKEN: TOKEN }), stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await hub.until(() => hub.ofType('connect').length > before, 'the agent of the environment token', 20_000);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 40_000);

  it('names a bad option in one line with exit 2, the token never in it', () => {
    const short = spawnSync(process.execPath, [BIN, ...args(hub.url, '--token', 'short-secret')], { env: env(), encoding: 'utf8' });
    expect(short.status).toBe(2);
    expect(short.stderr).toBe("arbiter agent: --token: at least 16 characters (the hub's --agent-token)\n");
    const path = spawnSync(process.execPath, [BIN, ...args(`${hub.url}/api`, '--token', TOKEN)], { env: env(), encoding: 'utf8' });
    expect(path.status).toBe(2);
    expect(path.stderr).toBe("arbiter agent: --hub: expected the hub's base URL, e.g. http://hub:7070 (no path)\n");
    const name = spawnSync(process.execPath, [BIN, 'agent', '--hub', hub.url, '--token', TOKEN, '--node-name', 'gpu 01'], { env: env(), encoding: 'utf8' });
    expect(name.status).toBe(2);
    expect(name.stderr).toMatch(/^arbiter agent: --node-name "gpu 01": letters, digits and \. _ - only/);
    expect(short.stdout + path.stdout + name.stdout + name.stderr).not.toContain(TOKEN);
  });
});

describe('arbiter agent with a real hub', () => {
  it("makes its node one of the hub's, with the capture's GPUs, and leaves it unreachable at once on SIGTERM (bye)", async () => {
    const s = await startTestServer({ configure: (c) => void (c.agents.token = TOKEN) });
    try {
      const nodes = async () => ((await (await fetch(`${s.url}/api/nodes`, { headers: { Authorization: `Bearer ${s.token}` } })).json()) as NodesResponse).nodes;
      const child = spawn(process.execPath, [BIN, ...args(s.url, '--token', TOKEN)], { env: env(), stdio: 'ignore' });
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      await vi.waitFor(async () => expect((await nodes()).find((n) => n.name === 'n1')).toMatchObject({ local: false, status: 'reachable', connected: true, capacity: { gpus: 4 } }), { timeout: 20_000, interval: 100 });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect((await nodes()).find((n) => n.name === 'n1')).toMatchObject({ status: 'unreachable', connected: false });
    } finally {
      await s.close();
    }
  }, 40_000);

  it('comes back by itself when the hub restarts (the hub disconnects its agents when it stops)', async () => {
    const first = await startTestServer({ configure: (c) => void (c.agents.token = TOKEN) });
    const port = Number(new URL(first.url).port);
    const child = spawn(process.execPath, [BIN, ...args(first.url, '--token', TOKEN, '--no-gpu')], { env: env(), stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let second: Awaited<ReturnType<typeof startTestServer>> | undefined;
    try {
      await vi.waitFor(() => expect(out).toContain(`agent n1 connected to ${first.url}`), { timeout: 20_000, interval: 50 });
      await first.close();
      await vi.waitFor(() => expect(out).toContain(`agent n1 lost ${first.url}: the hub closed the connection; reconnecting`), { timeout: 10_000, interval: 50 });
      // meanwhile the agent outlives its hub, although between two connections nothing of the link's holds it open
      second = await startTestServer({ configure: (c) => { c.agents.token = TOKEN; c.port = port; } });
      const hub = second;
      await vi.waitFor(() => expect(out).toContain(`agent n1 reconnected to ${first.url}`), { timeout: 20_000, interval: 50 });
      await vi.waitFor(async () => {
        const listed = ((await (await fetch(`${hub.url}/api/nodes`, { headers: { Authorization: `Bearer ${hub.token}` } })).json()) as NodesResponse).nodes;
        expect(listed.find((n) => n.name === 'n1')).toMatchObject({ status: 'reachable', connected: true });
      }, { timeout: 10_000, interval: 100 });
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      await second?.close();
    }
  }, 60_000);
});

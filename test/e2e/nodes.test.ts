/**
 * Several nodes in headless Chromium: a real hub (port 0, agents on, its own node with one fake GPU) and a
 * simulated agent — a socket.io client of the hub's `/agents` namespace with the agent token — reporting node
 * `gpu-b` with two GPUs. The overview lists both nodes; GPU tiles and cards are labelled with their node; the node
 * filter leaves one node's GPUs and survives a reload; the agent's `bye` shows its node unreachable with when it
 * was last seen. Screenshots go to test/artifacts/.
 */
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_NAMESPACE, AGENT_PROTOCOL, type SnapshotAck } from '../../shared/agents.ts';
import { FakeGpuSource, fakeGpu } from '../helpers/fake-gpu.ts';
import { statusPayload } from '../helpers/payloads.ts';
import { ARTIFACTS, LIVE_WAIT_MS, useE2e } from '../helpers/browser.ts';

const e2e = useE2e();
const AGENT_TOKEN = 'agent-token-e2e-0123456789';
const sockets: Socket[] = [];
afterAll(() => {
  for (const s of sockets) s.disconnect();
});

/** The agent of node `gpu-b`, welcomed by the hub; resolves once its first snapshot (two GPUs) is acknowledged. */
async function agentOfGpuB(url: string): Promise<Socket> {
  const socket = io(`${url}${AGENT_NAMESPACE}`, {
    auth: { token: AGENT_TOKEN, node: 'gpu-b', bootId: randomUUID(), version: 'test', protocol: AGENT_PROTOCOL },
    transports: ['websocket'], reconnection: false,
  });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect_error', reject);
    socket.once('welcome', () => resolve());
  });
  const gpus = [0, 1].map((i) => fakeGpu(i, { uuid: `GPU-gpu-b-${i}`, name: 'NVIDIA L40S', utilizationGpuPercent: 55 + i, processes: [], sampledAt: Date.now() }));
  const status = statusPayload({ node: 'gpu-b', sampledAt: Date.now(), gpus, health: 'healthy' });
  const ack = (await socket.timeout(5000).emitWithAck('snapshot', { seq: 1, status })) as SnapshotAck;
  expect(ack).toEqual({ ok: true, seq: 1 });
  return socket;
}

describe('several nodes (e2e)', () => {
  it('lists the hub and an agent\'s node, labels every GPU with its node, filters by node across a reload, shows a node gone', async () => {
    const s = await e2e.serve({
      gpuSource: new FakeGpuSource([fakeGpu(0, { name: 'NVIDIA A100-SXM4-80GB', processes: [] })]),
      hostIntervalMs: 250,
      configure: (c) => {
        c.agents.token = AGENT_TOKEN;
        c.monitor.gpuIntervalMs = 500;
      },
    });
    const hub = s.app.board.snapshot().node;
    const agent = await agentOfGpuB(s.url);
    const { page, errors } = await e2e.openDashboard(s);
    const poll = { timeout: LIVE_WAIT_MS, interval: 100 };

    // the node list: both nodes, reachable, with their GPUs
    const rows = page.getByTestId('node-row');
    await expect.poll(() => rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-node'))), poll).toEqual([hub, 'gpu-b']);
    const row = (n: string) => page.locator(`[data-testid="node-row"][data-node="${n}"]`);
    await expect.poll(() => row('gpu-b').getByTestId('node-reachability').textContent(), poll).toBe('reachable');
    expect(await row('gpu-b').getByTestId('node-gpus').textContent()).toBe('2');
    expect(await row('gpu-b').getByTestId('node-gpus-allocated').textContent()).toBe('0 / 2');
    expect(await row(hub).getByTestId('node-gpus').textContent()).toBe('1');

    // every GPU tile names its node
    const tileLabels = () => page.locator('[data-testid="tile-gpu"] .tile-label').allTextContents();
    await expect.poll(tileLabels, poll).toEqual([`${hub} · GPU 0`, 'gpu-b · GPU 0', 'gpu-b · GPU 1']);
    await page.screenshot({ path: `${ARTIFACTS}nodes-overview.png`, fullPage: true });

    // the GPU view: a group per node, cards labelled
    await page.getByTestId('nav-gpus').click();
    const cardLabels = () => page.locator('[data-testid="gpu-card"] [data-testid="gpu-label"]').allTextContents();
    await expect.poll(cardLabels, poll).toEqual([`${hub} · GPU 0`, 'gpu-b · GPU 0', 'gpu-b · GPU 1']);
    expect(await page.locator('[data-testid="gpu-group"] h2').allTextContents()).toEqual([`GPUs · ${hub}`, 'GPUs · gpu-b']);

    // filter by gpu-b: only its cards; the URL keeps it, so a reload does too
    await page.locator('[data-testid="node-filter"] button[data-node="gpu-b"]').click();
    await expect.poll(cardLabels, poll).toEqual(['gpu-b · GPU 0', 'gpu-b · GPU 1']);
    expect(new URL(page.url()).search).toBe('?node=gpu-b');
    await page.reload();
    await expect.poll(() => page.getByTestId('connection').textContent(), poll).toContain('WebSocket live');
    await expect.poll(cardLabels, poll).toEqual(['gpu-b · GPU 0', 'gpu-b · GPU 1']);
    expect(await page.locator('[data-testid="node-filter"] button[aria-pressed="true"]').textContent()).toBe('gpu-b');
    await page.screenshot({ path: `${ARTIFACTS}nodes-gpus-filtered.png`, fullPage: true });

    // the overview keeps the filter too: only gpu-b's tiles, its host
    await page.getByTestId('nav-overview').click();
    expect(new URL(page.url()).search).toBe('?node=gpu-b');
    await expect.poll(tileLabels, poll).toEqual(['gpu-b · GPU 0', 'gpu-b · GPU 1']);
    expect(await page.getByTestId('host-node').textContent()).toBe('Host · gpu-b');

    // the agent leaves (bye): its node is unreachable, shown with when it was last seen
    agent.emit('bye', {});
    await expect.poll(() => row('gpu-b').getByTestId('node-reachability').getAttribute('data-reachability'), poll).toBe('unreachable');
    expect(await row('gpu-b').getByTestId('node-reachability').textContent()).toMatch(/^unreachable · last seen \d+s ago$/);
    await page.screenshot({ path: `${ARTIFACTS}nodes-unreachable.png`, fullPage: true });
    expect(errors).toEqual([]);
  }, 90_000);
});

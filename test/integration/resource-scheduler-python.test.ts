/**
 * The resource-scheduler specification's Python usage (test/python/resource_scheduler_example.py: standard library
 * and requests), run unchanged against a real server: status, the strategy calls with time_slice, allocate, the
 * conflict queue, resolve, performance, and /push/sse read as onmessage would, which gets resource_status, hint
 * (a request waiting past --hint-long-wait-ms) and conflict messages, each {id, type, data, ts}.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeGpuSource, fakeGpu } from '../helpers/fake-gpu.ts';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { runToEnd } from '../helpers/cli-server.ts';
import { pythonRequestsUnavailable, pythonWithRequests } from '../helpers/python-requests.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const SCRIPT = new URL('../python/resource_scheduler_example.py', import.meta.url).pathname;
const why = pythonRequestsUnavailable();
if (why) console.warn(why);

describe.skipIf(why !== null)('the specification Python example', () => {
  let s: TestServer;
  beforeAll(async () => {
    const gpus = new FakeGpuSource([
      fakeGpu(0),
      fakeGpu(1, { processes: [{ pid: 4242, name: 'python other.py', type: 'C', usedMemoryMiB: 2048, gpuUuid: 'GPU-1', gpuIndex: 1, gpuInstanceId: null, computeInstanceId: null, user: 'ana', containerId: null }] }),
    ]);
    s = await startTestServer({
      hostSource: new FakeHostSource(), gpuSource: gpus, hostIntervalMs: 500,
      configure: (c) => {
        c.monitor.gpuIntervalMs = 3_600_000;
        c.hints.longWaitMs = 1000;
      },
    });
  });
  afterAll(() => s?.close());

  it('runs unchanged and sees every call answered and resource_status, hint and conflict messages', async () => {
    const python = pythonWithRequests()!;
    const { code, out, err } = await runToEnd(python, [SCRIPT], { cwd: process.cwd(), env: { ...process.env, ARBITER_URL: s.url, ARBITER_TOKEN: s.token } });
    expect(code, err).toBe(0);
    const summary = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(summary).toMatchObject({
      cpu_cores: 2,
      gpu_states: { 0: 'available', 1: 'in_use' },
      fair_sharing_ignored: ['time_slice'],
      time_slicing_quantum_ms: 10_000,
      current: { strategy: 'time_slicing', quantum_ms: 10_000 },
      allocations: ['granted', 'queued'],
      resolve_status: 409,
      performance_current: 'priority_based',
      messages_ok: true,
    });
    expect(summary.queue).toContain(summary.second_conflict);
    expect(summary.types_seen).toEqual(expect.arrayContaining(['resource_status', 'hint', 'conflict']));
  }, 60_000);
});

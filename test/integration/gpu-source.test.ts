/**
 * The real gpu source against the nvidia-smi stand-in, which replays the real captures in
 * test/fixtures/nvidia-smi/ and fails the ways nvidia-smi fails. Loops run at -lms 100.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { GpuSchema, type Gpu } from '../../shared/resources.ts';
import { systemClock } from '../../server/clock.ts';
import { MonitorLoop, SourceUnavailableError } from '../../server/monitor/loop.ts';
import { GpuSource, type GpuSourceOptions } from '../../server/monitor/sources/gpu/gpu.ts';
import { CAPTURES, fixture, STAND_IN, standIn } from '../stand-ins/gpu-fixtures.ts';

const DRIVER_MESSAGE =
  "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.";
const CONTAINER = 'c0ffee'.repeat(10) + 'beef';

const tmp = mkdtempSync(join(os.tmpdir(), 'arbiter-gpu-'));
// a recorded /proc and /etc/passwd for two of the captured pids
for (const [pid, uid, cgroup] of [[21180, 1000, `0::/system.slice/docker-${CONTAINER}.scope\n`], [5762, 0, '0::/user.slice\n']] as const) {
  mkdirSync(join(tmp, 'root/proc', String(pid)), { recursive: true });
  writeFileSync(join(tmp, 'root/proc', String(pid), 'status'), `Name:\tx\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`);
  writeFileSync(join(tmp, 'root/proc', String(pid), 'cgroup'), cgroup);
}
mkdirSync(join(tmp, 'root/etc'), { recursive: true });
writeFileSync(join(tmp, 'root/etc/passwd'), 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sources: GpuSource[] = [];
afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
});

let seq = 0;
/** A source on the stand-in; stopped after the test (`own`: the caller stops it, for concurrent tests). */
function make(file: string, env: Record<string, string> = {}, over: Partial<GpuSourceOptions> = {}, own = false) {
  const events: string[] = [];
  const state = join(tmp, `state-${++seq}`);
  const s = new GpuSource({
    nvidiaSmi: STAND_IN,
    intervalMs: 100,
    hangAfterMs: 700,
    staleAfterMs: 1500,
    firstOutputTimeoutMs: 8000,
    restartBackoffMs: { initialMs: 50, maxMs: 400 },
    hostRoot: join(tmp, 'root'),
    env: { ...process.env, NVIDIA_SMI_FIXTURE: fixture(file), NVIDIA_SMI_STATE: state, ...env },
    log: { info: (_o, m) => events.push(m), warn: (_o, m) => events.push(m) },
    ...over,
  });
  if (!own) sources.push(s);
  return { s, events };
}

/** Sample until `ok` holds (polling every 25 ms); the last value or error is in the failure message. */
async function until(s: GpuSource, ok: (g: Gpu[]) => boolean, timeoutMs = 10_000): Promise<Gpu[]> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const g = await s.sample();
      if (ok(g)) return g;
      last = g;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function untilError(s: GpuSource, ok: (e: Error) => boolean, timeoutMs = 10_000): Promise<Error> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await s.sample();
    } catch (e) {
      if (ok(e as Error)) return e as Error;
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`no such error in ${timeoutMs} ms; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const pidsOf = (g: Gpu[]) => g.map((x) => x.processes.map((p) => p.pid));

// what each capture says (read from the files: CSV rows, <gpu> elements, process lists, MIG devices)
const WINDOWS_PIDS = [2140, 2164, 12940, 13092, 13160, 13264, 13504, 13820, 14808, 14872, 15964, 16760, 17648, 17840, 19052, 19956, 20440, 21912, 22412, 23480, 23988];
const EVERY_FIXTURE = [
  { file: CAPTURES.h100, names: ['NVIDIA H100 80GB HBM3'], totals: [81559], pids: [[21180, 21181, 21198]], mig: [4] },
  { file: CAPTURES.l40s, names: ['NVIDIA L40S'], totals: [46068], pids: [[20037, 20038]], mig: [0] },
  { file: CAPTURES.windows, names: ['NVIDIA GeForce RTX 2080 SUPER'], totals: [8192], pids: [WINDOWS_PIDS], mig: [0] },
  { file: 'pai-gtx-1070-v9-384.66.xml', names: ['GeForce GTX 1070', 'GeForce GTX 1070'], totals: [8112, 8114], pids: [[1357, 2384, 3093], [3093]], mig: [0, 0] },
  { file: 'pai-rtx-2080ti-x2-v10-410.73.xml', names: ['GeForce RTX 2080 Ti', 'GeForce RTX 2080 Ti'], totals: [10989, 10989], pids: [[], []], mig: [0, 0] },
  { file: 'pai-tesla-k80-x4-azure-v10-430.26.xml', names: Array(4).fill('Tesla K80'), totals: Array(4).fill(11441), pids: [[58813], [58642], [], []], mig: [0, 0, 0, 0] },
  { file: 'telegraf-tesla-t4-v11-515.105.01.xml', names: ['Tesla T4'], totals: [15360], pids: [[675, 5762]], mig: [0] },
  { file: 'telegraf-a10g-v11-515.105.01.xml', names: ['NVIDIA A10G'], totals: [23028], pids: [[725]], mig: [0] },
  { file: 'telegraf-a100-sxm4-80gb-mig-v12-535.54.03.xml', names: ['NVIDIA A100-SXM4-80GB'], totals: [81920], pids: [[]], mig: [4] },
  { file: 'telegraf-rtx-3080-wsl2-wddm-v12-536.40.xml', names: ['NVIDIA GeForce RTX 3080'], totals: [10240], pids: [[835, 1481, 2214, 4044, 42416]], mig: [0] },
  { file: 'telegraf-rtx-3060-v12-570.124.04.xml', names: ['NVIDIA GeForce RTX 3060'], totals: [12288], pids: [[]], mig: [0] },
  { file: 'telegraf-rtx-3080-v13-595.58.03.xml', names: ['NVIDIA GeForce RTX 3080'], totals: [10240], pids: [[]], mig: [0] },
  { file: 'telegraf-rtx-4000-sff-ada-v13-595.84.xml', names: ['NVIDIA RTX 4000 SFF Ada Generation'], totals: [20475], pids: [[1842, 3190, 4937, 34626]], mig: [0] },
  { file: 'telegraf-gtx-1660-ti-nodoctype-418.43.xml', names: ['Graphics Device'], totals: [5912], pids: [[]], mig: [0] },
];

describe('gpu source on every capture', () => {
  // every capture at once, beside the other test files: these check what is parsed, not how fast a hang is seen, so
  // a stand-in slowed by a loaded machine must not count as hung (the hang tests below keep the short limits)
  it.concurrent.each(EVERY_FIXTURE)('$file', { timeout: 45_000 }, async (c) => {
    const { s } = make(c.file, {}, { hangAfterMs: 5000, staleAfterMs: 10_000, firstOutputTimeoutMs: 20_000 }, true);
    let gpus: Gpu[];
    try {
      gpus = await until(s, (g) => JSON.stringify(pidsOf(g)) === JSON.stringify(c.pids) && g.every((x, i) => x.migInstances.length === c.mig[i]), 30_000);
    } finally {
      await s.stop();
    }
    expect(gpus.map((g) => g.index)).toEqual(c.names.map((_, i) => i));
    expect(gpus.map((g) => g.name)).toEqual(c.names);
    expect(gpus.map((g) => g.memoryTotalMiB)).toEqual(c.totals);
    for (const g of gpus) {
      GpuSchema.parse(g); // the contract: shape, no NaN, no strings where numbers go
      expect(g.status).toBe('ok');
      for (const p of g.processes) expect(p.gpuUuid).toBe(g.uuid);
    }
    expect(s.stats()).toMatchObject({ restarts: 0, garbageLines: 0, xmlError: null });
  });
});

describe('gpu source details', () => {
  it('H100 MIG: instances and process → instance from -q, owner and container from /proc, no spawn per sample', async () => {
    const log = join(tmp, 'h100.log');
    const { s } = make(CAPTURES.h100, { NVIDIA_SMI_LOG: log });
    const [g] = await until(s, (x) => x[0]?.processes.length === 3 && x[0].processes[0]!.user !== null);
    expect(g!.migMode).toBe(true);
    expect(g!.utilizationGpuPercent).toBeNull();
    expect(g!.powerDrawW).toBe(433.78);
    expect(g!.migInstances.map((m) => [m.gpuInstanceId, m.memoryTotalMiB, m.memoryUsedMiB, m.smCount])).toEqual([
      [2, 40448, 11091, 60], [3, 20096, 17, 32], [9, 9984, 9, 16], [10, 9984, 9, 16],
    ]);
    expect(g!.processes[0]).toEqual({
      pid: 21180, name: '/root/tools/memhog', type: 'C', usedMemoryMiB: 2296, gpuUuid: g!.uuid, gpuIndex: 0,
      gpuInstanceId: 2, computeInstanceId: 0, user: 'alice', containerId: CONTAINER,
    });
    expect(g!.processes[2]).toMatchObject({ pid: 21198, name: './gpu_burn', gpuInstanceId: 2, user: null, containerId: null });
    expect(g!.health).toBe('healthy');

    // every child has started (node takes a moment to write its arguments)
    const logged = () => readFileSync(log, 'utf8').trim().split('\n');
    await until(s, () => logged().length === 4);
    const before = s.stats().spawns;
    expect(before).toBe(4);
    const invocations = logged().length;
    for (let i = 0; i < 20; i++) await s.sample();
    expect(s.stats().spawns).toBe(before);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(invocations);
    const args = readFileSync(log, 'utf8');
    expect(args).toMatch(/^--help-query-gpu$/m);
    expect(args).toMatch(/^--query-gpu=index,uuid,name,.* --format=csv,noheader,nounits -lms 100$/m);
    expect(args).toMatch(/^--query-compute-apps=gpu_uuid,pid,used_gpu_memory,process_name --format=csv,noheader,nounits -l 1$/m);
    expect(args).toMatch(/^-q -x$/m);
  });

  it('K80×4: index order with non-zero PCI domains; figures of each GPU stay with it', async () => {
    const { s } = make('pai-tesla-k80-x4-azure-v10-430.26.xml');
    const gpus = await until(s, (g) => g.length === 4 && g[0]!.processes.length === 1);
    expect(gpus.map((g) => g.pciBusId)).toEqual(['00001580:00:00.0', '00002DF7:00:00.0', '00004968:00:00.0', '0000F8D6:00:00.0']);
    expect(gpus.map((g) => g.uuid.slice(0, 12))).toEqual(['GPU-c3b26f7a', 'GPU-b01b80eb', 'GPU-30bc2701', 'GPU-3341aba2']);
    expect(gpus.map((g) => g.utilizationGpuPercent)).toEqual([99, 99, 0, 0]);
    expect(gpus.map((g) => g.fanPercent)).toEqual([null, null, null, null]);
    expect(gpus.map((g) => g.eccErrorsUncorrected)).toEqual([0, 0, 0, 0]);
    expect(gpus[0]!.throttleReasons).toEqual(['applications_clocks_setting']);
    expect(s.stats().missingFigures).toContain('migMode');
  });

  it('Windows: used memory is null for every process, names with spaces and parentheses intact', async () => {
    const { s } = make(CAPTURES.windows);
    const [g] = await until(s, (x) => x[0]?.processes.length === 21);
    expect(g!.processes.every((p) => p.usedMemoryMiB === null)).toBe(true);
    expect(g!.processes.find((p) => p.pid === 17840)!.name).toBe('C:\\Program Files (x86)\\Microsoft\\EdgeWebView\\Application\\149.0.4022.80\\msedgewebview2.exe');
    expect(g!.processes.find((p) => p.pid === 2140)!.type).toBe('C+G');
    expect(g!.powerDrawW).toBe(97.99);
    expect(g!.fanPercent).toBe(38);
  });

  it('WSL2 RTX 3080: 5 graphics processes from -q -x, the comma name intact; also through the CSV loop', async () => {
    const edge = /^\/opt\/microsoft\/msedge\/msedge --type=gpu-process --crashpad-handler-pid=2176 --enable-crash-reporter=, --change-stack-guard-on-fork=enable .* --variations-seed-version$/;
    for (const env of [{}, { NVIDIA_SMI_ALL_APPS: '1' }] as Record<string, string>[]) {
      const { s } = make('telegraf-rtx-3080-wsl2-wddm-v12-536.40.xml', env);
      const [g] = await until(s, (x) => x[0]?.processes.length === 5);
      expect(g!.processes.map((p) => p.type)).toEqual(['G', 'G', 'G', 'G', 'G']);
      expect(g!.processes.find((p) => p.pid === 2214)).toMatchObject({ usedMemoryMiB: 79 });
      expect(g!.processes.find((p) => p.pid === 2214)!.name).toMatch(edge);
      await s.stop();
    }
  });
});

describe('gpu source states', () => {
  it('no binary → SourceUnavailableError, the loop shows unavailable', async () => {
    for (const bin of [join(tmp, 'no/such/nvidia-smi'), 'nvidia-smi-that-is-not-on-path']) {
      const { s } = make(CAPTURES.h100, {}, { nvidiaSmi: bin });
      await expect(s.sample()).rejects.toBeInstanceOf(SourceUnavailableError);
      await expect(s.sample()).rejects.toThrow(/nvidia-smi not found/);
    }
    const { s } = make(CAPTURES.h100, {}, { nvidiaSmi: join(tmp, 'absent') });
    const loop = new MonitorLoop({ clock: systemClock, timeoutMs: 5000, maxBackoffMs: 60_000 });
    loop.add(s, 1000);
    await loop.runOnce('gpu');
    expect(loop.statuses().gpu).toMatchObject({ status: 'unavailable', message: expect.stringMatching(/not found/) });
  });

  it("driver failure (exit 9, message on stdout) → error with nvidia-smi's own message; recovers when the driver is back", async () => {
    const { s, events } = make(CAPTURES.h100, { NVIDIA_SMI_DRIVER_FAIL: '1' });
    const loop = new MonitorLoop({ clock: systemClock, timeoutMs: 9000, maxBackoffMs: 60_000 });
    loop.add(s, 1000);
    await loop.runOnce('gpu');
    expect(loop.statuses().gpu).toMatchObject({ status: 'error', message: DRIVER_MESSAGE });
    await expect(s.sample()).rejects.toThrow(DRIVER_MESSAGE);
    expect(events.some((e) => e.includes('exited with code 9'))).toBe(true);

    const back = make(CAPTURES.h100, { NVIDIA_SMI_DRIVER_FAIL: '1', NVIDIA_SMI_FAIL_SPAWNS: '2' });
    const err = await untilError(back.s, () => true);
    expect(err.message).toBe(DRIVER_MESSAGE);
    const g = await until(back.s, (x) => x.length === 1);
    expect(g[0]!.name).toBe('NVIDIA H100 80GB HBM3');
    expect(back.s.stats().restarts).toBeGreaterThanOrEqual(2);
  });

  it('one GPU lost ("Unable to determine the device handle") → that GPU error, the others report; it comes back', async () => {
    const { s } = make('pai-tesla-k80-x4-azure-v10-430.26.xml', { NVIDIA_SMI_LOST_GPU: '2', NVIDIA_SMI_FAIL_SPAWNS: '1', NVIDIA_SMI_DIE_AFTER: '15' }, { restartBackoffMs: { initialMs: 300, maxMs: 400 } });
    const gpus = await until(s, (g) => g.length === 4);
    expect(gpus.map((g) => g.status)).toEqual(['ok', 'ok', 'error', 'ok']);
    expect(gpus[2]).toMatchObject({
      index: 2, uuid: 'GPU-30bc2701-3bc2-5f35-0ebd-9867a077e138', pciBusId: '00004968:00:00.0', health: 'error',
      message: 'Unable to determine the device handle for GPU 4968:00:00.0: Unknown Error', utilizationGpuPercent: null, temperatureC: null,
    });
    expect(gpus[0]!.health).toBe('healthy');
    expect(gpus[1]!.utilizationGpuPercent).toBe(99);
    // the first loop exits (as the stand-in is told to); the next one sees the GPU again
    const back = await until(s, (g) => g.length === 4 && g.every((x) => x.status === 'ok'));
    expect(back[2]!.temperatureC).toBe(28);
  });

  it('a hang (no line for several intervals) is killed and restarted, and sampling resumes', async () => {
    const { s, events } = make(CAPTURES.l40s, { NVIDIA_SMI_HANG_AFTER: '3', NVIDIA_SMI_FAIL_SPAWNS: '1' }, { restartBackoffMs: { initialMs: 300, maxMs: 400 } });
    const first = await until(s, (g) => g.length === 1);
    const err = await untilError(s, (e) => /hung/.test(e.message));
    expect(err.message).toMatch(/nvidia-smi --query-gpu printed nothing for \d+ ms \(hung\)/);
    const after = await until(s, (g) => g[0]!.sampledAt > first[0]!.sampledAt + 700);
    expect(after[0]!.status).toBe('ok');
    expect(s.stats().restarts).toBe(1);
    expect(events.some((e) => /killed/.test(e))).toBe(true);
  });

  it('a loop that exits is restarted with backoff, saying so, and sampling resumes', async () => {
    const { s, events } = make(CAPTURES.h100, { NVIDIA_SMI_DIE_AFTER: '4', NVIDIA_SMI_FAIL_SPAWNS: '2' }, { restartBackoffMs: { initialMs: 300, maxMs: 1000 } });
    await until(s, (g) => g.length === 1);
    const err = await untilError(s, (e) => /exited/.test(e.message));
    expect(err.message).toMatch(/^nvidia-smi --query-gpu exited with code 1: nvidia-smi stand-in: exiting after 4 loops .*; restarting in \d+ ms \(restart \d\)$/);
    await until(s, (g) => g.length === 1 && s.stats().restarts === 2);
    const t = Date.now();
    await until(s, (g) => g[0]!.sampledAt > t);
    expect(events.filter((e) => e.startsWith('restarting nvidia-smi --query-gpu'))).toHaveLength(2);
  });

  it('the compute-apps loop dying is restarted too; processes come back', async () => {
    const { s } = make(CAPTURES.h100, { NVIDIA_SMI_TARGET: 'apps', NVIDIA_SMI_DIE_AFTER: '1', NVIDIA_SMI_FAIL_SPAWNS: '1' }, { restartBackoffMs: { initialMs: 300, maxMs: 400 } });
    const err = await untilError(s, (e) => /compute-apps exited/.test(e.message));
    expect(err.message).toMatch(/restarting in/);
    const g = await until(s, (x) => x[0]?.processes.length === 3);
    expect(g[0]!.processes.map((p) => p.pid)).toEqual([21180, 21181, 21198]);
    expect(s.stats().restarts).toBe(1);
  });

  it('garbage lines are skipped and counted', async () => {
    const { s } = make(CAPTURES.h100, { NVIDIA_SMI_GARBAGE: '1' });
    await until(s, (g) => g.length === 1 && s.stats().garbageLines >= 6);
    const g = await s.sample();
    expect(g[0]!.memoryTotalMiB).toBe(81559);
    expect(s.stats().restarts).toBe(0);
  });

  it('no valid line at all for a while → a clear error', async () => {
    const { s } = make(CAPTURES.h100, { NVIDIA_SMI_HANG_AFTER: '0' }, { firstOutputTimeoutMs: 500, startTimeoutMs: 30_000 });
    await expect(s.sample()).rejects.toThrow(/no output from nvidia-smi --query-gpu within 500 ms/);
  });

  it('the stand-in answers an unknown field as nvidia-smi does: exit 2, message on stdout', () => {
    expect(standIn(CAPTURES.h100, ['--query-gpu=index,device_minor', '--format=csv'])).toBe('Field "device_minor" is not a valid field to query.\n\n');
  });

  it('rejects inconsistent options, naming both values', () => {
    expect(() => new GpuSource({ intervalMs: 1000, hangAfterMs: 500 })).toThrow(/hangAfterMs \(500\) must be longer than intervalMs \(1000\)/);
    expect(() => new GpuSource({ intervalMs: 1000, staleAfterMs: 1000 })).toThrow(/staleAfterMs \(1000\) must be longer than intervalMs \(1000\)/);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  computeStats, cpuPercent, memoryUsed, parseStatsBody, readingOf, StatsTracker, type StatsReading,
} from '../../server/monitor/sources/docker/stats.ts';

const FIX = new URL('../fixtures/docker-stats/', import.meta.url);
const raw = (name: string) => readFileSync(new URL(name, FIX));
const body = (name: string) => parseStatsBody(raw(name))!;
const reading = (name: string, receivedAt = 0) => readingOf(body(name), receivedAt);

describe('stats bodies', () => {
  it('treats the empty body of a stopped Podman container as no stats (not an error)', () => {
    expect(raw('podman-stopped.json').length).toBe(0);
    expect(parseStatsBody(raw('podman-stopped.json'))).toBeNull();
    expect(parseStatsBody('')).toBeNull();
    expect(parseStatsBody(Buffer.alloc(0))).toBeNull();
  });

  it("treats Docker's all-zero body of a stopped container as no stats", () => {
    expect(parseStatsBody(JSON.parse(raw('docker-stopped.json').toString()))).toBeNull();
  });

  it('accepts a parsed object, a JSON string and a Buffer alike', () => {
    const text = raw('docker-v2-1.json').toString();
    expect(parseStatsBody(JSON.parse(text))).toEqual(parseStatsBody(text));
    expect(parseStatsBody(Buffer.from(text))).toEqual(parseStatsBody(text));
  });

  it('throws on a body that is not JSON', () => {
    expect(() => parseStatsBody('<html>')).toThrow(/unreadable stats body/);
  });
});

describe('Docker (cgroup v2) bodies', () => {
  const a = reading('docker-v2-1.json');
  const b = reading('docker-v2-2.json');

  it('reads the counters', () => {
    expect(a.at).toBe(Date.parse('2026-11-23T10:00:00Z'));
    expect(a.onlineCpus).toBe(4);
    expect(a.memoryUsedBytes).toBe(200 * 2 ** 20 - 50 * 2 ** 20); // usage − inactive_file
    expect(a.memoryLimitBytes).toBe(2 ** 30);
    expect(a.netRxBytes).toBe(1_000_000);
    expect(a.blockReadBytes).toBe(10_485_760);
    expect(a.blockWriteBytes).toBe(4096);
    expect(a.pids).toBe(12);
  });

  it('computes every figure from our two readings', () => {
    expect(computeStats(a, b)).toEqual({
      cpuPercent: 150, // 3e9 ns of 8e9 host ns × 4 CPUs
      memoryUsedMiB: 150,
      memoryLimitMiB: 1024,
      memoryPercent: 14.6,
      netRxBytesPerSec: 1_000_000,
      netTxBytesPerSec: 100_000,
      blockReadBytes: 10_485_760,
      blockWriteBytes: 1_052_672,
      pids: 13,
    });
  });

  it('has no rates from a first reading, even where the engine filled precpu_stats', () => {
    const frame = reading('docker-stream-frame.json');
    const s = computeStats(null, frame);
    expect(s.cpuPercent).toBeNull();
    expect(s.netRxBytesPerSec).toBeNull();
    expect(s.memoryUsedMiB).toBe(150);
    // from our own previous reading, 3 s earlier: 1e9 of 12e9 host ns × 4 = 33.3 %
    expect(computeStats(b, frame).cpuPercent).toBe(33.3);
  });
});

describe('Docker (cgroup v1) bodies', () => {
  const a = reading('docker-v1-1.json');
  const b = reading('docker-v1-2.json');

  it('counts CPUs from percpu_usage where online_cpus is missing', () => {
    expect(a.onlineCpus).toBe(2);
  });

  it('subtracts total_inactive_file from usage, as the docker CLI does', () => {
    expect(a.memoryUsedBytes).toBe(300 * 2 ** 20 - 60 * 2 ** 20);
  });

  it('sums Read and Write over devices, ignoring Total and the others (case-insensitive)', () => {
    expect(a.blockReadBytes).toBe(4_096_000 + 1_024_000);
    expect(a.blockWriteBytes).toBe(2_048_000);
  });

  it('sums the network over interfaces', () => {
    const s = computeStats(a, b);
    expect(s.cpuPercent).toBe(50);
    expect(s.netRxBytesPerSec).toBe((20_000 + 2_000) / 2);
    expect(s.netTxBytesPerSec).toBe((10_000 + 2_000) / 2);
    expect(s.memoryUsedMiB).toBe(240);
    expect(s.memoryLimitMiB).toBe(512);
    expect(s.memoryPercent).toBe(46.9);
  });
});

describe('Podman bodies (recorded)', () => {
  it('has zeroed precpu_stats with stream=false: the figures come from our own previous reading', () => {
    const b1 = body('podman-busy-1.json') as { precpu_stats?: { cpu_usage?: { total_usage?: number } } };
    expect(b1.precpu_stats?.cpu_usage?.total_usage).toBe(0);
    const s = computeStats(reading('podman-busy-1.json'), reading('podman-busy-2.json'));
    // a busy loop in one process: just under one core
    expect(s.cpuPercent).toBeGreaterThan(85);
    expect(s.cpuPercent).toBeLessThanOrEqual(100);
    expect(s.cpuPercent).toBe(92.9);
  });

  it('reads memory from usage and limit only, the network keyed "network", and empty blkio as no I/O', () => {
    const r = reading('podman-busy-1.json');
    expect(r.memoryUsedBytes).toBe(253_952);
    expect(r.memoryLimitBytes).toBe(64 * 2 ** 20);
    expect(r.netRxBytes).toBe(586);
    expect(r.blockReadBytes).toBe(0);
    expect(r.pids).toBe(1);
    const s = computeStats(r, reading('podman-busy-2.json'));
    expect(s).toMatchObject({ memoryUsedMiB: 0.2, memoryLimitMiB: 64, memoryPercent: 0.4, netRxBytesPerSec: 0, blockWriteBytes: 0 });
    expect(s.netTxBytesPerSec).toBe(Math.round(70 / 2.033));
  });

  it('an idle container without a limit: limit is the host memory, CPU ~0', () => {
    const s = computeStats(reading('podman-idle-1.json'), reading('podman-idle-2.json'));
    expect(s.cpuPercent).toBeLessThan(1);
    expect(s.memoryLimitMiB).toBeGreaterThan(1024);
  });

  it('a stream frame has precpu filled, which we ignore', () => {
    expect(computeStats(null, reading('podman-stream-frame.json')).cpuPercent).toBeNull();
  });
});

describe('cpuPercent', () => {
  const base: StatsReading = {
    at: 0, cpuTotalNs: 0, systemCpuNs: 0, onlineCpus: 2, memoryUsedBytes: null, memoryLimitBytes: null,
    netRxBytes: null, netTxBytes: null, blockReadBytes: null, blockWriteBytes: null, pids: null,
  };

  it('uses the wall clock where the engine gives no system_cpu_usage', () => {
    const prev = { ...base, systemCpuNs: null, at: 1000 };
    const cur = { ...base, systemCpuNs: null, at: 3000, cpuTotalNs: 1_000_000_000 };
    expect(cpuPercent(prev, cur)).toBe(50);
  });

  it('uses the wall clock where the host counter strays from CPUs × wall time', () => {
    // host counter advanced 1.4 s × 2 CPUs in 2 s of wall time: read apart from the container counter
    const prev = { ...base, at: 0, systemCpuNs: 10e9, cpuTotalNs: 5e9 };
    const cur = { ...base, at: 2000, systemCpuNs: 10e9 + 2.8e9, cpuTotalNs: 5e9 + 1.9e9 };
    expect(cpuPercent(prev, cur)).toBeCloseTo(95, 5);
  });

  it('is null after a counter reset (container restarted) and for the first reading', () => {
    expect(cpuPercent(null, base)).toBeNull();
    expect(cpuPercent({ ...base, cpuTotalNs: 5e9 }, { ...base, at: 2000, cpuTotalNs: 1e9, systemCpuNs: 4e9 })).toBeNull();
  });

  it('memoryUsed falls back to cache, then to usage', () => {
    expect(memoryUsed({ usage: 100, stats: { cache: 30 } })).toBe(70);
    expect(memoryUsed({ usage: 100 })).toBe(100);
    expect(memoryUsed({ usage: 100, stats: { inactive_file: 200 } })).toBe(100); // never negative
    expect(memoryUsed({})).toBeNull();
  });
});

describe('StatsTracker', () => {
  it('keeps the last figures while a stream has sent no newer frame (Podman: every 5 s)', () => {
    const t = new StatsTracker();
    const a = reading('docker-v2-1.json');
    const b = reading('docker-v2-2.json');
    expect(t.update('x', a).cpuPercent).toBeNull();
    expect(t.update('x', b).cpuPercent).toBe(150);
    expect(t.update('x', b).cpuPercent).toBe(150); // same frame again: not 0/0
    t.forget('x');
    expect(t.update('x', b).cpuPercent).toBeNull();
  });

  it('uses the time we received a body where it has no read stamp', () => {
    const t = new StatsTracker();
    const strip = (name: string) => ({ ...body(name), read: undefined, cpu_stats: { ...body(name).cpu_stats, system_cpu_usage: undefined } });
    t.update('y', readingOf(strip('docker-v2-1.json'), 10_000));
    expect(t.update('y', readingOf(strip('docker-v2-2.json'), 12_000)).cpuPercent).toBe(150);
  });
});

import { describe, expect, it } from 'vitest';
import { parseNvidiaSmiXml } from '../../server/monitor/sources/gpu/xml.ts';
import { CAPTURES, readFixture, standIn } from '../stand-ins/gpu-fixtures.ts';

// figures read from each document by eye; element names differ between DTD v9 and v13
const CASES = [
  { file: 'pai-gtx-1070-v9-384.66.xml', schema: 9, gpus: 2, name: 'GeForce GTX 1070', total: 8112, power: 119.47, limit: 180, procs: [[1357, 'G', 99], [2384, 'G', 79], [3093, 'C', 2283]] },
  { file: 'pai-rtx-2080ti-x2-v10-410.73.xml', schema: 10, gpus: 2, name: 'GeForce RTX 2080 Ti', total: 10989, power: 2.12, limit: 250, procs: [], throttle: ['gpu_idle'] },
  { file: 'pai-tesla-k80-x4-azure-v10-430.26.xml', schema: 10, gpus: 4, name: 'Tesla K80', total: 11441, power: 135.72, limit: 149, procs: [[58813, 'C', 576]], ecc: [0, 0] },
  { file: 'telegraf-tesla-t4-v11-515.105.01.xml', schema: 11, gpus: 1, name: 'Tesla T4', total: 15360, power: 26.78, limit: 70, procs: [[675, 'G', 22], [5762, 'C', 1005]], ecc: [0, 0] },
  { file: 'telegraf-a10g-v11-515.105.01.xml', schema: 11, gpus: 1, name: 'NVIDIA A10G', total: 23028, power: 25.58, limit: 300, procs: [[725, 'G', 22]] },
  { file: 'telegraf-a100-sxm4-80gb-mig-v12-535.54.03.xml', schema: 12, gpus: 1, name: 'NVIDIA A100-SXM4-80GB', total: 81920, power: 67.03, limit: 500, procs: [], mig: true },
  { file: 'telegraf-rtx-3080-wsl2-wddm-v12-536.40.xml', schema: 12, gpus: 1, name: 'NVIDIA GeForce RTX 3080', total: 10240, power: 22.78, limit: 336, procs: [[835, 'G', 550], [1481, 'G', 18], [2214, 'G', 79], [4044, 'G', 541], [42416, 'G', 159]] },
  { file: 'telegraf-rtx-3060-v12-570.124.04.xml', schema: 12, gpus: 1, name: 'NVIDIA GeForce RTX 3060', total: 12288, power: 11.6, limit: 170, procs: [] },
  { file: 'telegraf-rtx-3080-v13-595.58.03.xml', schema: 13, gpus: 1, name: 'NVIDIA GeForce RTX 3080', total: 10240, power: 139.62, limit: 320, procs: [], util: 65 },
  { file: 'telegraf-rtx-4000-sff-ada-v13-595.84.xml', schema: 13, gpus: 1, name: 'NVIDIA RTX 4000 SFF Ada Generation', total: 20475, power: 8.81, limit: 70, procs: [[1842, 'G', 410], [3190, 'G', 451], [4937, 'C', 160], [34626, 'C+G', 183]] },
  { file: 'telegraf-gtx-1660-ti-nodoctype-418.43.xml', schema: null, gpus: 1, name: 'Graphics Device', total: 5912, power: 8.93, limit: 130, procs: [] },
] as const;

describe('gpu -q -x inventory (DTD v9–v13)', () => {
  it.each(CASES)('$file', (c) => {
    const inv = parseNvidiaSmiXml(readFixture(c.file));
    expect(inv.schemaVersion).toBe(c.schema);
    expect(inv.gpus).toHaveLength(c.gpus);
    const g = inv.gpus[0]!;
    expect(g.name).toBe(c.name);
    expect(g.uuid).toMatch(/^GPU-[0-9a-f-]{36}$/);
    expect(g.memoryTotalMiB).toBe(c.total);
    expect(g.powerDrawW).toBe(c.power);
    expect(g.powerLimitW).toBe(c.limit);
    expect(g.processes.map((p) => [p.pid, p.type, p.usedMemoryMiB])).toEqual(c.procs);
    if ('util' in c) expect(g.utilizationGpuPercent).toBe(c.util);
    if ('throttle' in c) expect(g.throttleReasons).toEqual(c.throttle);
    if ('ecc' in c) expect([g.eccErrorsCorrected, g.eccErrorsUncorrected]).toEqual(c.ecc);
    for (const gpu of inv.gpus) {
      for (const v of Object.values(gpu)) if (typeof v === 'number') expect(Number.isFinite(v)).toBe(true);
      for (const v of [gpu.temperatureC, gpu.fanPercent, gpu.clockSmMHz]) expect(v === null || typeof v === 'number').toBe(true);
    }
  });

  it('K80×4: GPUs in document (index) order, minor numbers out of order, PCI domains kept', () => {
    const inv = parseNvidiaSmiXml(readFixture('pai-tesla-k80-x4-azure-v10-430.26.xml'));
    expect(inv.gpus.map((g) => g.minorNumber)).toEqual([1, 2, 3, 0]);
    expect(inv.gpus.map((g) => g.busId)).toEqual(['00001580:00:00.0', '00002DF7:00:00.0', '00004968:00:00.0', '0000F8D6:00:00.0']);
    expect(inv.gpus.map((g) => g.fanPercent)).toEqual([null, null, null, null]);
    expect(inv.gpus[0]!.throttleReasons).toEqual(['applications_clocks_setting']);
  });

  it('A100 MIG: four instances with their own memory, utilisation N/A → null', () => {
    const g = parseNvidiaSmiXml(readFixture('telegraf-a100-sxm4-80gb-mig-v12-535.54.03.xml')).gpus[0]!;
    expect(g.migMode).toBe(true);
    expect(g.utilizationGpuPercent).toBeNull();
    expect(g.migInstances).toEqual([3, 4, 5, 6].map((gi) => ({
      gpuInstanceId: gi, computeInstanceId: 0, profile: null, memoryTotalMiB: 19968, memoryUsedMiB: 12, smCount: 14,
    })));
  });

  it('WSL2 RTX 3080: the comma-containing command line is kept whole', () => {
    const g = parseNvidiaSmiXml(readFixture('telegraf-rtx-3080-wsl2-wddm-v12-536.40.xml')).gpus[0]!;
    const edge = g.processes.find((p) => p.pid === 2214)!;
    expect(edge.name).toContain('--enable-crash-reporter=, --change-stack-guard-on-fork=enable');
    expect(edge.gpuInstanceId).toBeNull();
    expect(g.minorNumber).toBeNull();
  });

  it('H100 capture (-q text turned into XML by the stand-in): MIG 3g.40gb + 2g.20gb + 2×1g.10gb, processes in GI 2', () => {
    const g = parseNvidiaSmiXml(standIn(CAPTURES.h100, ['-q', '-x'])).gpus[0]!;
    expect(g.migInstances.map((m) => [m.gpuInstanceId, m.memoryTotalMiB, m.smCount])).toEqual([[2, 40448, 60], [3, 20096, 32], [9, 9984, 16], [10, 9984, 16]]);
    expect(g.processes.map((p) => [p.pid, p.gpuInstanceId, p.computeInstanceId])).toEqual([[21180, 2, 0], [21181, 2, 0], [21198, 2, 0]]);
  });

  it('refuses a document that is not nvidia-smi -q -x', () => {
    expect(() => parseNvidiaSmiXml('<html></html>')).toThrow(/nvidia_smi_log/);
  });
});

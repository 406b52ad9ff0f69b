import type { Gpu } from '../../shared/resources.ts';
import type { Source } from '../../server/monitor/loop.ts';

export function fakeGpu(index: number, over: Partial<Gpu> = {}): Gpu {
  return {
    index, uuid: `GPU-${index}`, name: 'Test GPU', pciBusId: `00000000:0${index}:00.0`, driverVersion: '595.58.03', status: 'ok',
    utilizationGpuPercent: 40, utilizationMemoryPercent: 10, memoryTotalMiB: 16384, memoryUsedMiB: 4096, memoryFreeMiB: 12288,
    temperatureC: 60, powerDrawW: 120, powerLimitW: 300, fanPercent: 30, pstate: 'P2', clockSmMHz: 1500, clockMemMHz: 7000,
    migMode: false, eccErrorsCorrected: 0, eccErrorsUncorrected: 0, throttleReasons: [], migInstances: [], processes: [],
    health: 'healthy', sampledAt: Date.now(), ...over,
  };
}

/** A gpu source whose GPUs the test sets. */
export class FakeGpuSource implements Source<Gpu[]> {
  readonly name = 'gpu';
  constructor(public gpus: Gpu[], public fail: Error | null = null) {}
  async sample(): Promise<Gpu[]> {
    if (this.fail) throw this.fail;
    return this.gpus;
  }
}

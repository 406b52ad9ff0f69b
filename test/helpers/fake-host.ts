/** A host source whose samples the test decides: load rises by one each sample. */
import type { HostSample } from '../../shared/resources.ts';
import type { Source } from '../../server/monitor/loop.ts';

export class FakeHostSource implements Source<HostSample> {
  readonly name = 'host';
  n = 0;
  fail: Error | null = null;

  async sample(): Promise<HostSample> {
    if (this.fail) throw this.fail;
    this.n++;
    return fakeHostSample(this.n, Date.now());
  }
}

export function fakeHostSample(load: number, at: number): HostSample {
  return {
    sampledAt: at,
    hostname: 'test-node',
    uptimeSec: 100,
    cpu: { model: 'Test CPU', cores: 2, loadPercent: load, perCore: [load, load], speedMHz: 2000, speedMinMHz: null, speedMaxMHz: null, loadAvg: [0.1, 0.2, 0.3], health: 'healthy' },
    memory: { totalMiB: 1000, usedMiB: 500, availableMiB: 500, usedPercent: 50, swapTotalMiB: 0, swapUsedMiB: 0, swapUsedPercent: 0, health: 'healthy' },
    disks: [{ mount: '/', device: '/dev/test', fsType: 'ext4', sizeBytes: 100, usedBytes: 50, availableBytes: 50, usedPercent: 50, health: 'healthy' }],
    network: [{ iface: 'eth0', rxBytesPerSec: 10, txBytesPerSec: 20, rxBytesTotal: 1000, txBytesTotal: 2000 }],
  };
}

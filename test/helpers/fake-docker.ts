import type { Container } from '../../shared/resources.ts';
import type { Source } from '../../server/monitor/loop.ts';

export function fakeContainer(name: string, over: Partial<Container> = {}): Container {
  return {
    id: `${name.padEnd(12, '0')}${'a'.repeat(52)}`.slice(0, 64), name, image: 'localhost/busybox:latest', state: 'running', statusText: 'Up 2 minutes',
    createdAt: 1_700_000_000_000, startedAt: 1_700_000_001_000, labels: {}, ports: [], restartCount: 0, healthcheck: null,
    cpuPercent: 12.5, memoryUsedMiB: 100, memoryLimitMiB: 1000, memoryPercent: 10, netRxBytesPerSec: 5, netTxBytesPerSec: 6,
    blockReadBytes: 0, blockWriteBytes: 0, pids: 3, gpus: [], health: 'healthy', sampledAt: Date.now(), ...over,
  };
}

export class FakeDockerSource implements Source<Container[]> {
  readonly name = 'docker';
  constructor(public containers: Container[], public fail: Error | null = null) {}
  async sample(): Promise<Container[]> {
    if (this.fail) throw this.fail;
    return this.containers;
  }
}

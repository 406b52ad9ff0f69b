/** Test doubles for the live connection: transports, a manual clock and frames. */
import type { Envelope, EventType, ReplayGap } from '../../shared/events.ts';
import type { ResourceStatus } from '../../shared/resources.ts';
import type { ConnectionDeps } from '../../web/src/live/connection.ts';
import type {
  LiveSnapshot,
  LiveSource,
  TransportFactory,
  TransportHandlers,
  TransportOptions,
} from '../../web/src/live/source.ts';
import type { NodesSnapshot } from '../../web/src/live/nodes.ts';

export interface FakeAttempt {
  opts: TransportOptions;
  h: TransportHandlers;
  closed: boolean;
}

export class FakeTransport {
  readonly attempts: FakeAttempt[] = [];
  readonly factory: TransportFactory = (opts, h) => {
    const a: FakeAttempt = { opts, h, closed: false };
    this.attempts.push(a);
    return { close: () => void (a.closed = true) };
  };
  get last(): FakeAttempt {
    const a = this.attempts[this.attempts.length - 1];
    if (!a) throw new Error('no attempt yet');
    return a;
  }
}

export class FakeClock {
  now = 1_700_000_000_000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private seq = 0;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.timers.push({ at: this.now + ms, fn, id });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.timers = this.timers.filter((t) => t.id !== h);
  };
  get pending(): number {
    return this.timers.length;
  }
  /** Advance time, running due timers in order. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const t = this.timers[0];
      if (!t || t.at > end) break;
      this.timers.shift();
      this.now = t.at;
      t.fn();
    }
    this.now = end;
  }
}

export class FakeFrames {
  private queue: (() => void)[] = [];
  requestFrame = (fn: () => void) => void this.queue.push(fn);
  get pending(): number {
    return this.queue.length;
  }
  flush(): void {
    const q = this.queue.splice(0);
    for (const fn of q) fn();
  }
}

export function makeDeps(overrides: Partial<ConnectionDeps> = {}) {
  const ws = new FakeTransport();
  const sse = new FakeTransport();
  const clock = new FakeClock();
  const frames = new FakeFrames();
  let statusResult: () => Promise<ResourceStatus> = () => new Promise(() => undefined); // pending forever
  let healthResult: () => Promise<{ node: string }> = () => new Promise(() => undefined); // pending forever
  const deps: ConnectionDeps = {
    websocket: ws.factory,
    sse: sse.factory,
    fetchStatus: () => statusResult(),
    fetchHealth: () => healthResult(),
    now: () => clock.now,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    requestFrame: frames.requestFrame,
    random: () => 0.5,
    ...overrides,
  };
  return {
    deps,
    ws,
    sse,
    clock,
    frames,
    setStatusResult(fn: () => Promise<ResourceStatus>) {
      statusResult = fn;
    },
    /** what GET /api/health answers from now on (the node the server is) */
    setHealthResult(fn: () => Promise<{ node: string }>) {
      healthResult = fn;
    },
  };
}

export function makeStatus(over: { node?: string; sampledAt?: number; load?: number; cores?: number[]; rx?: number } = {}): ResourceStatus {
  const sampledAt = over.sampledAt ?? 1_700_000_000_000;
  const perCore = over.cores ?? [10, 20, 30, 40];
  return {
    node: over.node ?? 'node-a',
    sampledAt,
    health: 'healthy',
    gpus: [],
    containers: [],
    sources: {
      host: { status: 'ok', lastSampleAt: sampledAt, lastErrorAt: null, consecutiveFailures: 0, nextRetryAt: null },
    },
    host: {
      sampledAt,
      hostname: 'node-a.local',
      uptimeSec: 1000,
      cpu: {
        model: 'Test CPU 9000',
        cores: perCore.length,
        loadPercent: over.load ?? 12.34,
        perCore,
        speedMHz: 2400,
        speedMinMHz: 800,
        speedMaxMHz: 3600,
        loadAvg: [0.5, 0.4, 0.3],
        health: 'healthy',
      },
      memory: {
        totalMiB: 16384,
        usedMiB: 8192,
        availableMiB: 8192,
        usedPercent: 50,
        swapTotalMiB: 2048,
        swapUsedMiB: 0,
        swapUsedPercent: 0,
        health: 'healthy',
      },
      disks: [
        {
          mount: '/',
          device: '/dev/sda1',
          fsType: 'ext4',
          sizeBytes: 100e9,
          usedBytes: 91e9,
          availableBytes: 9e9,
          usedPercent: 91,
          health: 'critical',
        },
        {
          mount: '/data',
          device: '/dev/sdb1',
          fsType: 'xfs',
          sizeBytes: 1e12,
          usedBytes: 1e11,
          availableBytes: 9e11,
          usedPercent: 10,
          health: 'healthy',
        },
      ],
      network: [
        { iface: 'eth0', rxBytesPerSec: over.rx ?? 2048, txBytesPerSec: 512, rxBytesTotal: 1e9, txBytesTotal: 1e8 },
      ],
    },
  };
}

export function envelope(id: number, status: ResourceStatus = makeStatus()): Envelope<'resource_status'> {
  return { id, type: 'resource_status', ts: status.sampledAt, data: status };
}

/** A LiveSource whose snapshot the test sets directly, and which hands out the envelopes and gaps the test gives it. */
export class StaticSource implements LiveSource {
  private listeners = new Set<() => void>();
  private envListeners = new Map<EventType, Set<(envs: readonly Envelope<EventType>[]) => void>>();
  private gapListeners = new Set<(gap: ReplayGap) => void>();
  retries = 0;
  nodes: NodesSnapshot = { home: null, homeConfirmed: false, latestByNode: new Map() };
  constructor(public snapshot: LiveSnapshot) {}
  subscribeNodes = (l: () => void) => this.subscribe(l);
  getNodes = () => this.nodes;
  subscribe = (l: () => void) => {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  };
  getSnapshot = () => this.snapshot;
  onEnvelopes<K extends EventType>(type: K, l: (envs: readonly Envelope<K>[]) => void) {
    const f = l as unknown as (envs: readonly Envelope<EventType>[]) => void;
    let set = this.envListeners.get(type);
    if (!set) this.envListeners.set(type, (set = new Set()));
    set.add(f);
    return () => void set.delete(f);
  }
  onGap(l: (gap: ReplayGap) => void) {
    this.gapListeners.add(l);
    return () => void this.gapListeners.delete(l);
  }
  retryNow = () => {
    this.retries++;
  };
  /** A new snapshot, with the resource_status envelopes of this frame. */
  set(snapshot: LiveSnapshot, envs: Envelope<'resource_status'>[] = []): void {
    this.snapshot = snapshot;
    if (envs.length) this.emit('resource_status', envs);
    for (const l of this.listeners) l();
  }
  /** One frame's envelopes of one type, as LiveConnection hands them out. */
  emit<K extends EventType>(type: K, envs: Envelope<K>[]): void {
    for (const l of this.envListeners.get(type) ?? []) l(envs as unknown as Envelope<EventType>[]);
  }
  gap(gap: ReplayGap): void {
    for (const l of this.gapListeners) l(gap);
  }
}

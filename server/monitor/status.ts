/**
 * The latest picture of the node: combines the newest sample of each source with the sources' states,
 * records history series, and hands each new snapshot to its listeners (the hub, the metrics).
 * It subscribes to the monitor loop itself (`attach`): each attempt brings a source's sample and its state in one
 * call, so what is published never depends on the order two callbacks ran in.
 *
 * Pacing: every host attempt publishes (it is the heartbeat), and so does a change of any source's state or an
 * engine event; the routine samples of the other sources (gpu, docker) are folded into the next publish, at most
 * 1.5 × `paceMs` after the last one — one snapshot a second instead of one per source attempt.
 */
import type { Container, Gpu, HostSample, ResourceStatus, SourceStatus } from '../../shared/resources.ts';
import { correlate } from './correlate.ts';
import type { Clock, Timer } from '../clock.ts';
import { worst } from './health.ts';
import type { History } from './history.ts';
import type { Attempt, MonitorLoop } from './loop.ts';

/** What each source of a node samples, by source name: the loop the board attaches to is typed with it. */
export type NodeSamples = {
  host: HostSample;
  gpu: Gpu[];
  docker: Container[];
};

export type SnapshotListener = (status: ResourceStatus) => void;

export class StatusBoard {
  private host: HostSample | null = null;
  private gpus: Gpu[] = [];
  private containers: Container[] = [];
  private prunedAt = 0;
  private sources: Record<string, SourceStatus> = {};
  private readonly listeners = new Set<SnapshotListener>();
  private current: ResourceStatus;

  private lastPublishAt = -Infinity;
  private pending: Timer | null = null;

  constructor(
    private readonly node: string,
    private readonly history: History,
    private readonly clock: Clock,
    /** longest delay of a routine gpu/docker sample before it is published @default 1000 */
    private readonly paceMs = 1000,
  ) {
    this.current = this.build();
  }

  private now(): number {
    return this.clock.now();
  }

  onSnapshot(l: SnapshotListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  snapshot(): ResourceStatus {
    return this.current;
  }

  /** Take every attempt of the loop's sources from now on; returns the unsubscribe. */
  attach(loop: Pick<MonitorLoop<NodeSamples>, 'onAttempt'>): () => void {
    return loop.onAttempt((a) => this.record(a));
  }

  /**
   * One attempt of a source: its sample (when it succeeded) is stored first, then its state decides the publish —
   * every host attempt and every change of state at once, the routine gpu/docker samples paced.
   */
  record(attempt: Attempt<NodeSamples>): void {
    switch (attempt.source) {
      case 'host':
        if (attempt.sample !== undefined) this.setHost(attempt.sample);
        break;
      case 'gpu':
        if (attempt.sample !== undefined) this.setGpus(attempt.sample);
        break;
      case 'docker':
        if (attempt.sample !== undefined) this.setContainers(attempt.sample);
        break;
    }
    this.setSourceStatus(attempt.source, attempt.status);
  }

  private setHost(sample: HostSample): void {
    this.host = sample;
    recordHost(this.history, sample);
    if (sample.sampledAt - this.prunedAt >= 60_000) {
      this.prunedAt = sample.sampledAt;
      this.history.prune(sample.sampledAt);
    }
  }

  private setGpus(gpus: Gpu[]): void {
    this.gpus = gpus;
    recordGpus(this.history, gpus);
  }

  /**
   * New container list. The loop's samples come through `record` and are published by their state; engine events
   * (a container started, died…) pass `publish` so the change is pushed at once instead of at the next sample.
   */
  setContainers(containers: Container[], opts: { publish?: boolean } = {}): void {
    this.containers = containers;
    recordContainers(this.history, containers);
    if (opts.publish) this.publish();
  }

  /** A source finished an attempt (its sample, if any, is stored): publish the new picture, now or paced. */
  private setSourceStatus(name: string, status: SourceStatus): void {
    const before = this.sources[name];
    this.sources = { ...this.sources, [name]: status };
    const changed = !before || before.status !== status.status || before.message !== status.message;
    // no driver or no binary: there are no GPUs to show (an `error` keeps the last figures, marked by the status)
    if (name === 'gpu' && status.status === 'unavailable') this.gpus = [];
    if (name === 'docker' && status.status === 'unavailable') this.containers = [];
    if (name === 'host' || changed) this.publish();
    else this.publishSoon();
  }

  private publishSoon(): void {
    if (this.pending) return;
    // half a pace of slack: when the host's own tick is due, it publishes (with these figures) and this is cancelled
    const delay = Math.max(0, this.lastPublishAt + this.paceMs * 1.5 - this.now());
    this.pending = this.clock.setTimeout(() => {
      this.pending = null;
      this.publish();
    }, delay);
  }

  private publish(): void {
    this.pending?.cancel();
    this.pending = null;
    this.lastPublishAt = this.now();
    this.current = this.build();
    for (const l of this.listeners) l(this.current);
  }

  /** Cancel a pending publish (shutdown). */
  stop(): void {
    this.pending?.cancel();
    this.pending = null;
  }

  private build(): ResourceStatus {
    const h = this.host;
    const ratings = h ? [h.cpu.health, h.memory.health, ...h.disks.map((d) => d.health)] : [];
    const { gpus, containers } = correlate(this.gpus, this.containers);
    for (const g of gpus) ratings.push(g.health);
    for (const c of containers) ratings.push(c.health);
    for (const s of Object.values(this.sources)) if (s.status === 'error') ratings.push('error');
    return {
      node: this.node,
      sampledAt: h?.sampledAt ?? this.now(),
      sources: this.sources,
      host: h,
      gpus,
      containers,
      health: worst(ratings),
    };
  }
}

/** History series names of the host source. */
export function recordHost(history: History, s: HostSample): void {
  const t = s.sampledAt;
  history.record('cpu.total', t, s.cpu.loadPercent);
  s.cpu.perCore.forEach((v, i) => history.record(`cpu.core.${i}`, t, v));
  history.record('mem.used', t, s.memory.usedPercent);
  history.record('swap.used', t, s.memory.swapUsedPercent);
  for (const d of s.disks) history.record(`disk.${d.mount}.used`, t, d.usedPercent);
  for (const n of s.network) {
    history.record(`net.${n.iface}.rx`, t, n.rxBytesPerSec);
    history.record(`net.${n.iface}.tx`, t, n.txBytesPerSec);
  }
}

/** History series names of each GPU: `gpu.<index>.util|mem|temp|power` (mem in percent of total). */
export function recordGpus(history: History, gpus: Gpu[]): void {
  for (const g of gpus) {
    const t = g.sampledAt;
    const p = `gpu.${g.index}`;
    history.record(`${p}.util`, t, g.utilizationGpuPercent);
    const memPct = g.memoryTotalMiB && g.memoryUsedMiB !== null ? (g.memoryUsedMiB / g.memoryTotalMiB) * 100 : null;
    history.record(`${p}.mem`, t, memPct);
    history.record(`${p}.temp`, t, g.temperatureC);
    history.record(`${p}.power`, t, g.powerDrawW);
  }
}

/** History series of each container: `container.<name>.cpu` (percent, 100 = one core) and `.mem` (MiB). */
export function recordContainers(history: History, containers: Container[]): void {
  for (const c of containers) {
    if (c.state !== 'running') continue;
    history.record(`container.${c.name}.cpu`, c.sampledAt, c.cpuPercent);
    history.record(`container.${c.name}.mem`, c.sampledAt, c.memoryUsedMiB);
  }
}

/**
 * Prometheus metrics: host gauges from each snapshot, push counters, scheduler figures and the process's own default
 * metrics. `bindMetrics` connects them to the running parts.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { CONFLICT_TYPES } from '../shared/names.ts';
import type { ResourceStatus } from '../shared/resources.ts';
import type { EventHub } from './push/hub.ts';
import type { SchedulerEngine } from './scheduler/engine.ts';
import type { StatusBoard } from './monitor/status.ts';

/** Scheduler figures read at scrape time. */
export interface SchedulerFigures {
  queued: number;
  allocations: number;
  /** open conflicts by type */
  openConflicts: Record<string, number>;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly cpuLoad = new Gauge({ name: 'arbiter_cpu_load_percent', help: 'CPU load, percent (cpu="total" or core index)', labelNames: ['cpu'], registers: [this.registry] });
  private readonly cpuSpeed = new Gauge({ name: 'arbiter_cpu_speed_mhz', help: 'average current CPU frequency', registers: [this.registry] });
  private readonly loadAvg = new Gauge({ name: 'arbiter_load_average', help: 'load average', labelNames: ['period'], registers: [this.registry] });
  private readonly memory = new Gauge({ name: 'arbiter_memory_mib', help: 'memory, MiB', labelNames: ['kind'], registers: [this.registry] });
  private readonly fsSize = new Gauge({ name: 'arbiter_filesystem_size_bytes', help: 'filesystem size', labelNames: ['mount', 'device'], registers: [this.registry] });
  private readonly fsUsed = new Gauge({ name: 'arbiter_filesystem_used_bytes', help: 'filesystem used', labelNames: ['mount', 'device'], registers: [this.registry] });
  private readonly net = new Gauge({ name: 'arbiter_network_bytes_per_second', help: 'network rate', labelNames: ['iface', 'direction'], registers: [this.registry] });
  private readonly sourceUp = new Gauge({ name: 'arbiter_source_up', help: '1 when the monitor source is ok', labelNames: ['source', 'status'], registers: [this.registry] });
  private readonly gpuLabels = ['gpu', 'uuid', 'name'] as const;
  private readonly gpuUtil = new Gauge({ name: 'arbiter_gpu_utilization_percent', help: 'GPU utilisation', labelNames: this.gpuLabels, registers: [this.registry] });
  private readonly gpuMemUsed = new Gauge({ name: 'arbiter_gpu_memory_used_mib', help: 'GPU memory used', labelNames: this.gpuLabels, registers: [this.registry] });
  private readonly gpuMemTotal = new Gauge({ name: 'arbiter_gpu_memory_total_mib', help: 'GPU memory total', labelNames: this.gpuLabels, registers: [this.registry] });
  private readonly gpuTemp = new Gauge({ name: 'arbiter_gpu_temperature_celsius', help: 'GPU temperature', labelNames: this.gpuLabels, registers: [this.registry] });
  private readonly gpuPower = new Gauge({ name: 'arbiter_gpu_power_watts', help: 'GPU power draw', labelNames: this.gpuLabels, registers: [this.registry] });
  private readonly gpuProcesses = new Gauge({ name: 'arbiter_gpu_processes', help: 'processes holding GPU memory', labelNames: this.gpuLabels, registers: [this.registry] });
  private readonly gpuHealthy = new Gauge({ name: 'arbiter_gpu_up', help: '1 when the GPU reports (status ok)', labelNames: this.gpuLabels, registers: [this.registry] });
  private readonly ctrLabels = ['container', 'id', 'image'] as const;
  private readonly ctrCpu = new Gauge({ name: 'arbiter_container_cpu_percent', help: 'container CPU, 100 = one core', labelNames: this.ctrLabels, registers: [this.registry] });
  private readonly ctrMem = new Gauge({ name: 'arbiter_container_memory_used_mib', help: 'container memory used', labelNames: this.ctrLabels, registers: [this.registry] });
  private readonly ctrMemLimit = new Gauge({ name: 'arbiter_container_memory_limit_mib', help: 'container memory limit', labelNames: this.ctrLabels, registers: [this.registry] });
  private readonly ctrNet = new Gauge({ name: 'arbiter_container_network_bytes_per_second', help: 'container network rate', labelNames: [...this.ctrLabels, 'direction'], registers: [this.registry] });
  private readonly ctrRunning = new Gauge({ name: 'arbiter_container_running', help: '1 when the container runs', labelNames: this.ctrLabels, registers: [this.registry] });
  /** set by bindMetrics: scheduler figures, read at scrape time */
  schedulerFigures: () => SchedulerFigures = () => ({ queued: 0, allocations: 0, openConflicts: {} });
  private readonly queueLength = new Gauge({
    name: 'arbiter_queue_length', help: 'requests waiting in the conflict queue', registers: [this.registry],
    collect: () => void this.queueLength.set(this.schedulerFigures().queued),
  });
  private readonly activeAllocations = new Gauge({
    name: 'arbiter_allocations', help: 'active allocations', registers: [this.registry],
    collect: () => void this.activeAllocations.set(this.schedulerFigures().allocations),
  });
  private readonly openConflicts = new Gauge({
    name: 'arbiter_conflicts_open', help: 'open conflicts by type', labelNames: ['type'], registers: [this.registry],
    collect: () => {
      this.openConflicts.reset();
      for (const type of CONFLICT_TYPES) {
        this.openConflicts.set({ type }, this.schedulerFigures().openConflicts[type] ?? 0);
      }
    },
  });
  /** grants per second: rate(arbiter_grants_total[1m]) */
  readonly grants = new Counter({ name: 'arbiter_grants_total', help: 'allocations granted', registers: [this.registry] });
  readonly schedulingChanges = new Counter({ name: 'arbiter_scheduling_changes_total', help: 'scheduler change records by kind', labelNames: ['kind'], registers: [this.registry] });
  readonly events = new Counter({ name: 'arbiter_events_published_total', help: 'events published by the hub', labelNames: ['type'], registers: [this.registry] });
  /** set by bindMetrics: connected clients per transport, read at scrape time */
  clientCounts: () => Record<string, number> = () => ({});
  private readonly clients = new Gauge({
    name: 'arbiter_push_clients', help: 'connected push clients', labelNames: ['transport'], registers: [this.registry],
    collect: () => {
      for (const [transport, n] of Object.entries(this.clientCounts())) this.clients.set({ transport }, n);
    },
  });

  constructor() {
    // event-loop delay sampled once a second: prom-client's default 10 ms timer alone costs ~0.6 % of a core
    collectDefaultMetrics({ register: this.registry, prefix: 'arbiter_', eventLoopMonitoringPrecision: LAG_RESOLUTION_MS });
    // but its lag figures are the timer's intervals, the resolution included (~1.0 s on an idle server): ours instead
    for (const name of Object.keys(LAG_FIGURES)) this.registry.removeSingleMetric(`arbiter_nodejs_eventloop_lag_${name}_seconds`);
    const h = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
    h.enable();
    for (const [name, help] of Object.entries(LAG_FIGURES)) {
      const g: Gauge = new Gauge({
        name: `arbiter_nodejs_eventloop_lag_${name}_seconds`, help, registers: [this.registry],
        collect: () => {
          g.set(lagFigures(h, LAG_RESOLUTION_MS)[name as keyof typeof LAG_FIGURES]);
          if (name === 'p99') h.reset(); // the last one read: the next scrape gets the delays since this one
        },
      });
    }
  }

  update(s: ResourceStatus): void {
    this.sourceUp.reset();
    for (const [name, src] of Object.entries(s.sources)) {
      this.sourceUp.set({ source: name, status: src.status }, src.status === 'ok' ? 1 : 0);
    }
    this.updateGpus(s);
    this.updateContainers(s);
    const h = s.host;
    if (!h) return;
    this.cpuLoad.set({ cpu: 'total' }, h.cpu.loadPercent);
    h.cpu.perCore.forEach((v, i) => this.cpuLoad.set({ cpu: String(i) }, v));
    if (h.cpu.speedMHz !== null) this.cpuSpeed.set(h.cpu.speedMHz);
    (['1m', '5m', '15m'] as const).forEach((p, i) => this.loadAvg.set({ period: p }, h.cpu.loadAvg[i]!));
    this.memory.set({ kind: 'total' }, h.memory.totalMiB);
    this.memory.set({ kind: 'used' }, h.memory.usedMiB);
    this.memory.set({ kind: 'available' }, h.memory.availableMiB);
    this.memory.set({ kind: 'swap_total' }, h.memory.swapTotalMiB);
    this.memory.set({ kind: 'swap_used' }, h.memory.swapUsedMiB);
    this.fsSize.reset();
    this.fsUsed.reset();
    for (const d of h.disks) {
      this.fsSize.set({ mount: d.mount, device: d.device }, d.sizeBytes);
      this.fsUsed.set({ mount: d.mount, device: d.device }, d.usedBytes);
    }
    this.net.reset();
    for (const n of h.network) {
      this.net.set({ iface: n.iface, direction: 'rx' }, n.rxBytesPerSec);
      this.net.set({ iface: n.iface, direction: 'tx' }, n.txBytesPerSec);
    }
  }

  private updateGpus(s: ResourceStatus): void {
    const gauges = [this.gpuUtil, this.gpuMemUsed, this.gpuMemTotal, this.gpuTemp, this.gpuPower, this.gpuProcesses, this.gpuHealthy];
    for (const g of gauges) g.reset();
    for (const g of s.gpus) {
      const l = { gpu: String(g.index), uuid: g.uuid, name: g.name };
      const set = (gauge: Gauge<'gpu' | 'uuid' | 'name'>, v: number | null) => {
        if (v !== null) gauge.set(l, v);
      };
      set(this.gpuUtil, g.utilizationGpuPercent);
      set(this.gpuMemUsed, g.memoryUsedMiB);
      set(this.gpuMemTotal, g.memoryTotalMiB);
      set(this.gpuTemp, g.temperatureC);
      set(this.gpuPower, g.powerDrawW);
      set(this.gpuProcesses, g.processes.length);
      set(this.gpuHealthy, g.status === 'ok' ? 1 : 0);
    }
  }

  private updateContainers(s: ResourceStatus): void {
    for (const g of [this.ctrCpu, this.ctrMem, this.ctrMemLimit, this.ctrNet, this.ctrRunning]) g.reset();
    for (const c of s.containers) {
      const l = { container: c.name, id: c.id.slice(0, 12), image: c.image };
      this.ctrRunning.set(l, c.state === 'running' ? 1 : 0);
      if (c.cpuPercent !== null) this.ctrCpu.set(l, c.cpuPercent);
      if (c.memoryUsedMiB !== null) this.ctrMem.set(l, c.memoryUsedMiB);
      if (c.memoryLimitMiB !== null) this.ctrMemLimit.set(l, c.memoryLimitMiB);
      if (c.netRxBytesPerSec !== null) this.ctrNet.set({ ...l, direction: 'rx' }, c.netRxBytesPerSec);
      if (c.netTxBytesPerSec !== null) this.ctrNet.set({ ...l, direction: 'tx' }, c.netTxBytesPerSec);
    }
  }
}

/** The parts the metrics read. */
export interface MetricParts {
  board: Pick<StatusBoard, 'onSnapshot'>;
  hub: Pick<EventHub, 'subscribe'>;
  engine: Pick<SchedulerEngine, 'onChange' | 'openConflicts' | 'listQueue' | 'listAllocations'>;
  /** connected clients per transport */
  clientCounts: () => Record<string, number>;
}

/** Feeds the metrics from the running parts: snapshots, published events, scheduler changes and figures, clients. */
export function bindMetrics(metrics: Metrics, parts: MetricParts): () => void {
  const { board, hub, engine } = parts;
  metrics.clientCounts = parts.clientCounts;
  metrics.schedulerFigures = () => {
    const openConflicts: Record<string, number> = {};
    for (const c of engine.openConflicts()) openConflicts[c.type] = (openConflicts[c.type] ?? 0) + 1;
    return { queued: engine.listQueue('fifo', 1, 0).total, allocations: engine.listAllocations('active').length, openConflicts };
  };
  const offs = [
    board.onSnapshot((s) => metrics.update(s)),
    hub.subscribe((ev) => metrics.events.inc({ type: ev.type })),
    engine.onChange((batch) => {
      for (const c of batch) {
        metrics.schedulingChanges.inc({ kind: c.kind });
        if (c.kind === 'allocation_granted') metrics.grants.inc();
      }
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}

/** How often the event-loop delay is sampled. */
const LAG_RESOLUTION_MS = 1000;

/** The event-loop lag figures, in the order a scrape reads them (p99 last: it resets the histogram). */
const LAG_FIGURES = {
  min: 'The minimum recorded event loop delay.',
  max: 'The maximum recorded event loop delay.',
  mean: 'The mean of the recorded event loop delays.',
  stddev: 'The standard deviation of the recorded event loop delays.',
  p50: 'The 50th percentile of the recorded event loop delays.',
  p90: 'The 90th percentile of the recorded event loop delays.',
  p99: 'The 99th percentile of the recorded event loop delays.',
} as const;

/**
 * Event-loop lag in seconds from Node's delay histogram, whose samples are the intervals of a timer of `resolutionMs`
 * (an idle loop records the resolution itself): the resolution taken off, never below 0; all 0 before a sample.
 */
export function lagFigures(h: Pick<IntervalHistogram, 'count' | 'min' | 'max' | 'mean' | 'stddev' | 'percentile'>, resolutionMs: number): Record<keyof typeof LAG_FIGURES, number> {
  const lag = (ns: number) => (h.count > 0 && Number.isFinite(ns) ? Math.max(0, ns / 1e9 - resolutionMs / 1000) : 0);
  return {
    min: lag(h.min), max: lag(h.max), mean: lag(h.mean), stddev: h.count > 0 && Number.isFinite(h.stddev) ? h.stddev / 1e9 : 0,
    p50: lag(h.percentile(50)), p90: lag(h.percentile(90)), p99: lag(h.percentile(99)),
  };
}

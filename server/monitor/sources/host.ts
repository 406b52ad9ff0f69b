/**
 * The host source: CPU, memory, filesystems and network of this machine.
 * On Linux the per-second figures are read asynchronously from /proc and statfs (systeminformation's
 * currentLoad/fsSize/networkStats spawn processes with execSync on every call); systeminformation gives the
 * slow-changing inventory (CPU model and speed range) and is the fallback on other systems.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import si from 'systeminformation';
import type { Clock } from '../../clock.ts';
import type { Disk, HostSample, NetworkInterface } from '../../../shared/resources.ts';
import { rate, type Thresholds } from '../health.ts';
import type { Source } from '../loop.ts';
import {
  busyPercent, parseCpuMHz, parseLoadavg, parseMeminfo, parseMounts, parseNetDev, parseProcStat,
  type CpuTimes, type MountEntry, type NetCounters,
} from './procfs.ts';

export interface HostFs {
  readFile(path: string): Promise<string>;
  statfs(path: string): Promise<{ bsize: number; blocks: number; bfree: number; bavail: number }>;
}

const realFs: HostFs = {
  readFile: (p) => fsp.readFile(p, 'utf8'),
  statfs: (p) => fsp.statfs(p),
};

export interface CpuInventory {
  model: string;
  speedMinMHz: number | null;
  speedMaxMHz: number | null;
}

export interface HostSourceOptions {
  clock: Clock;
  thresholds: { cpu: Thresholds; memory: Thresholds; disk: Thresholds };
  inventoryIntervalMs: number;
  /** root of the proc filesystem; tests point it at a directory of recorded files */
  procRoot?: string;
  fs?: HostFs;
  hostname?: () => string;
  cpuInventory?: () => Promise<CpuInventory>;
  /** network interfaces left out (default: loopback and container plumbing, see isVirtualInterface) */
  ignoreInterfaces?: (iface: string) => boolean;
}

const MiB = 1024;

async function systemCpuInventory(): Promise<CpuInventory> {
  const c = await si.cpu();
  const model = [c.manufacturer, c.brand].filter(Boolean).join(' ') || os.cpus()[0]?.model || 'unknown';
  return { model, speedMinMHz: c.speedMin ? c.speedMin * 1000 : null, speedMaxMHz: c.speedMax ? c.speedMax * 1000 : null };
}

export class HostSource implements Source<HostSample> {
  readonly name = 'host';
  private readonly fs: HostFs;
  private readonly proc: string;
  private prevCpu: { total: CpuTimes; cores: CpuTimes[] } | null = null;
  private prevNet: { at: number; counters: Map<string, NetCounters> } | null = null;
  private mounts: MountEntry[] = [];
  private inventory: CpuInventory = { model: os.cpus()[0]?.model ?? 'unknown', speedMinMHz: null, speedMaxMHz: null };
  private inventoryAt = -Infinity;
  private haveCpuInventory = false;
  private linux = true;

  constructor(private readonly opts: HostSourceOptions) {
    this.fs = opts.fs ?? realFs;
    this.proc = opts.procRoot ?? '/proc';
  }

  private read(file: string): Promise<string> {
    return this.fs.readFile(join(this.proc, file));
  }

  /** Prime the counters so that the first sample has a delta to measure. */
  async start(): Promise<void> {
    try {
      this.prevCpu = parseProcStat(await this.read('stat'));
    } catch {
      this.linux = false;
      return;
    }
    try {
      this.prevNet = { at: this.opts.clock.now(), counters: parseNetDev(await this.read('net/dev')) };
    } catch {
      // no network counters: the first sample reports rate 0
    }
  }

  async sample(): Promise<HostSample> {
    const now = this.opts.clock.now();
    await this.refreshInventory(now);
    return this.linux ? this.sampleLinux(now) : this.sampleOther(now);
  }

  private async refreshInventory(now: number): Promise<void> {
    if (now - this.inventoryAt < this.opts.inventoryIntervalMs) return;
    this.inventoryAt = now;
    if (!this.haveCpuInventory) {
      // the CPU model does not change: asked once (systeminformation runs lscpu/dmidecode for it), retried if that failed
      try {
        this.inventory = await (this.opts.cpuInventory ?? systemCpuInventory)();
        this.haveCpuInventory = true;
      } catch {
        // keep os.cpus()' model; the per-second figures do not depend on it
      }
    }
    if (this.linux) this.mounts = parseMounts(await this.read('mounts'));
  }

  private async sampleLinux(now: number): Promise<HostSample> {
    const [stat, meminfo, loadavg, cpuinfo, netdev, uptime] = await Promise.all([
      this.read('stat'), this.read('meminfo'), this.read('loadavg'),
      this.read('cpuinfo').catch(() => ''), this.read('net/dev'), this.read('uptime').catch(() => '0'),
    ]);
    const cpu = parseProcStat(stat);
    const prev = this.prevCpu ?? cpu;
    this.prevCpu = cpu;
    const loadPercent = round1(busyPercent(prev.total, cpu.total));
    const perCore = cpu.cores.map((c, i) => round1(busyPercent(prev.cores[i] ?? c, c)));
    const mhz = parseCpuMHz(cpuinfo);

    const mem = parseMeminfo(meminfo);
    const totalKiB = mem.get('MemTotal') ?? 0;
    const availKiB = mem.get('MemAvailable') ?? (mem.get('MemFree') ?? 0) + (mem.get('Cached') ?? 0) + (mem.get('Buffers') ?? 0);
    const swapTotalKiB = mem.get('SwapTotal') ?? 0;
    const swapUsedKiB = swapTotalKiB - (mem.get('SwapFree') ?? 0);

    const disks = await this.disksLinux();
    const network = this.networkRates(now, parseNetDev(netdev));

    return this.assemble(now, {
      uptimeSec: Number(uptime.split(' ')[0]) || 0,
      loadPercent,
      perCore,
      speedMHz: mhz.length ? round1(mhz.reduce((a, b) => a + b, 0) / mhz.length) : null,
      loadAvg: parseLoadavg(loadavg),
      memory: { totalKiB, availKiB, swapTotalKiB, swapUsedKiB },
      disks,
      network,
    });
  }

  private async disksLinux(): Promise<Omit<Disk, 'health'>[]> {
    const out: Omit<Disk, 'health'>[] = [];
    await Promise.all(
      this.mounts.map(async (m) => {
        try {
          const s = await this.fs.statfs(m.mount);
          if (s.blocks === 0) return;
          out.push(diskFigures(m, s.bsize * s.blocks, s.bsize * (s.blocks - s.bfree), s.bsize * s.bavail));
        } catch {
          // a mount that vanished or refuses statfs is left out of this sample
        }
      }),
    );
    return out.sort((a, b) => a.mount.localeCompare(b.mount));
  }

  private networkRates(now: number, counters: Map<string, NetCounters>): NetworkInterface[] {
    const prev = this.prevNet;
    this.prevNet = { at: now, counters };
    const ignore = this.opts.ignoreInterfaces ?? isVirtualInterface;
    const dt = prev ? (now - prev.at) / 1000 : 0;
    const out: NetworkInterface[] = [];
    for (const [iface, c] of counters) {
      if (ignore(iface)) continue;
      const p = prev?.counters.get(iface);
      const perSec = (cur: number, old: number | undefined) =>
        dt > 0 && old !== undefined && cur >= old ? Math.round((cur - old) / dt) : 0;
      out.push({ iface, rxBytesPerSec: perSec(c.rx, p?.rx), txBytesPerSec: perSec(c.tx, p?.tx), rxBytesTotal: c.rx, txBytesTotal: c.tx });
    }
    return out.sort((a, b) => a.iface.localeCompare(b.iface));
  }

  /** Fallback for systems without /proc, through systeminformation. */
  private async sampleOther(now: number): Promise<HostSample> {
    const [load, mem, fs, net, speed] = await Promise.all([si.currentLoad(), si.mem(), si.fsSize(), si.networkStats('*'), si.cpuCurrentSpeed()]);
    const counters = new Map<string, NetCounters>(net.map((n) => [n.iface, { rx: n.rx_bytes, tx: n.tx_bytes }]));
    return this.assemble(now, {
      uptimeSec: os.uptime(),
      loadPercent: round1(load.currentLoad),
      perCore: load.cpus.map((c) => round1(c.load)),
      speedMHz: speed.avg ? speed.avg * 1000 : null,
      loadAvg: os.loadavg() as [number, number, number],
      memory: { totalKiB: mem.total / 1024, availKiB: mem.available / 1024, swapTotalKiB: mem.swaptotal / 1024, swapUsedKiB: mem.swapused / 1024 },
      disks: fs.map((d) => diskFigures({ device: d.fs, mount: d.mount, fsType: d.type }, d.size, d.used, d.available)),
      network: this.networkRates(now, counters),
    });
  }

  private assemble(
    now: number,
    f: {
      uptimeSec: number; loadPercent: number; perCore: number[]; speedMHz: number | null; loadAvg: [number, number, number];
      memory: { totalKiB: number; availKiB: number; swapTotalKiB: number; swapUsedKiB: number };
      disks: Omit<Disk, 'health'>[]; network: NetworkInterface[];
    },
  ): HostSample {
    const t = this.opts.thresholds;
    const { totalKiB, availKiB, swapTotalKiB, swapUsedKiB } = f.memory;
    const usedPercent = totalKiB > 0 ? round1(((totalKiB - availKiB) / totalKiB) * 100) : 0;
    return {
      sampledAt: now,
      hostname: (this.opts.hostname ?? os.hostname)(),
      uptimeSec: f.uptimeSec,
      cpu: {
        model: this.inventory.model,
        cores: f.perCore.length,
        loadPercent: f.loadPercent,
        perCore: f.perCore,
        speedMHz: f.speedMHz,
        speedMinMHz: this.inventory.speedMinMHz,
        speedMaxMHz: this.inventory.speedMaxMHz,
        loadAvg: f.loadAvg,
        health: rate(f.loadPercent, t.cpu),
      },
      memory: {
        totalMiB: Math.round(totalKiB / MiB),
        usedMiB: Math.round((totalKiB - availKiB) / MiB),
        availableMiB: Math.round(availKiB / MiB),
        usedPercent,
        swapTotalMiB: Math.round(swapTotalKiB / MiB),
        swapUsedMiB: Math.round(swapUsedKiB / MiB),
        swapUsedPercent: swapTotalKiB > 0 ? round1((swapUsedKiB / swapTotalKiB) * 100) : 0,
        health: rate(usedPercent, t.memory),
      },
      disks: f.disks.map((d) => ({ ...d, health: rate(d.usedPercent, t.disk) })),
      network: f.network,
    };
  }
}

/** Loopback and the per-container plumbing of Docker, Podman, CNI and libvirt: not the host's own network. */
export function isVirtualInterface(iface: string): boolean {
  return iface === 'lo' || /^(veth|cni|podman|docker|br-|virbr|flannel|cali|vxlan|tunl|kube-ipvs)/.test(iface);
}

function diskFigures(m: MountEntry, size: number, used: number, available: number): Omit<Disk, 'health'> {
  // as df computes Use%: used / (used + available to unprivileged users)
  const denom = used + available;
  return {
    mount: m.mount, device: m.device, fsType: m.fsType,
    sizeBytes: size, usedBytes: used, availableBytes: available,
    usedPercent: denom > 0 ? round1((used / denom) * 100) : 0,
  };
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

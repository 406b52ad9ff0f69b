/**
 * Container stats arithmetic, pure. A stats body (Docker or Podman, one-shot or a stream frame) is reduced to
 * counters; figures that need a rate (CPU %, network) come from the difference between two readings that *we*
 * took — never from `precpu_stats`, which Podman zeroes with `stream=false` and one-shot Docker leaves empty.
 *
 * CPU %, as `docker stats` shows it (100 = one core busy): Δ container CPU ns / Δ host CPU ns × online CPUs × 100
 * when the engine reports `system_cpu_usage` (and it agrees with the wall clock); otherwise
 * Δ container CPU ns / Δ wall ns × 100, the wall time from the engine's `read` stamps.
 * Memory as the docker CLI computes it: usage minus inactive file pages (cgroup v1 `total_inactive_file`,
 * v2 `inactive_file`), or minus `cache` on old engines; Podman reports only usage and limit.
 */

const MiB = 1024 * 1024;

/** A stats body as Docker and Podman send it; every field may be missing. */
export interface StatsBody {
  read?: string;
  cpu_stats?: {
    cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null };
    system_cpu_usage?: number;
    online_cpus?: number;
  };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> | null };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }> | null;
  blkio_stats?: { io_service_bytes_recursive?: { op?: string; value?: number }[] | null } | null;
  pids_stats?: { current?: number } | null;
}

/** The counters of one reading. */
export interface StatsReading {
  /** when the engine took it (`read`), or when we received it where `read` is missing or zero; ms */
  at: number;
  cpuTotalNs: number | null;
  systemCpuNs: number | null;
  onlineCpus: number;
  memoryUsedBytes: number | null;
  memoryLimitBytes: number | null;
  netRxBytes: number | null;
  netTxBytes: number | null;
  blockReadBytes: number | null;
  blockWriteBytes: number | null;
  pids: number | null;
}

/** The figures of a container for one sample (the stats part of `Container`). */
export interface ContainerStats {
  cpuPercent: number | null;
  memoryUsedMiB: number | null;
  memoryLimitMiB: number | null;
  memoryPercent: number | null;
  netRxBytesPerSec: number | null;
  netTxBytesPerSec: number | null;
  blockReadBytes: number | null;
  blockWriteBytes: number | null;
  pids: number | null;
}

export const NO_STATS: ContainerStats = {
  cpuPercent: null, memoryUsedMiB: null, memoryLimitMiB: null, memoryPercent: null,
  netRxBytesPerSec: null, netTxBytesPerSec: null, blockReadBytes: null, blockWriteBytes: null, pids: null,
};

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * Parse a stats response. A stopped container answers HTTP 200 with an empty body (Podman) or a body of zeroes
 * with no `read` time (Docker): both mean "no stats", returned as null — not an error.
 */
export function parseStatsBody(body: unknown): StatsBody | null {
  let v = body;
  if (Buffer.isBuffer(v)) v = v.toString('utf8');
  if (typeof v === 'string') {
    if (v.trim() === '') return null;
    try {
      v = JSON.parse(v);
    } catch {
      throw new Error(`unreadable stats body: ${String(v).slice(0, 80)}`);
    }
  }
  if (v === null || typeof v !== 'object') return null;
  const b = v as StatsBody;
  if (!b.cpu_stats && !b.memory_stats) return null;
  // Docker's body for a stopped container: zero time, zero counters, empty memory_stats
  if (readTime(b.read) === null && !b.cpu_stats?.cpu_usage?.total_usage && num(b.memory_stats?.usage) === null) return null;
  return b;
}

/** Engine time of a reading in ms; null for Go's zero time ("0001-01-01T00:00:00Z") or a missing field. */
function readTime(read: string | undefined): number | null {
  if (!read) return null;
  const t = Date.parse(read);
  return Number.isFinite(t) && t > 0 ? t : null;
}

/** Memory in use as the docker CLI computes it. */
export function memoryUsed(m: StatsBody['memory_stats']): number | null {
  const usage = num(m?.usage);
  if (usage === null) return null;
  const s = m?.stats ?? {};
  for (const key of ['total_inactive_file', 'inactive_file', 'cache']) {
    const v = num(s[key]);
    if (v !== null && v < usage) return usage - v;
  }
  return usage;
}

function sumNetworks(n: StatsBody['networks']): { rx: number; tx: number } | null {
  if (!n || typeof n !== 'object') return null;
  const ifaces = Object.values(n);
  if (ifaces.length === 0) return null;
  let rx = 0;
  let tx = 0;
  for (const i of ifaces) {
    rx += num(i?.rx_bytes) ?? 0;
    tx += num(i?.tx_bytes) ?? 0;
  }
  return { rx, tx };
}

function blockIo(b: StatsBody['blkio_stats']): { read: number; write: number } | null {
  // no blkio section: unknown; a section whose list is null or empty: the engine saw no I/O
  if (!b || typeof b !== 'object') return null;
  let read = 0;
  let write = 0;
  for (const e of b.io_service_bytes_recursive ?? []) {
    const op = (e?.op ?? '').toLowerCase();
    if (op === 'read') read += num(e.value) ?? 0;
    else if (op === 'write') write += num(e.value) ?? 0;
  }
  return { read, write };
}

/** Reduce a parsed body to counters; `receivedAt` stands in for the engine time where the body has none. */
export function readingOf(b: StatsBody, receivedAt: number): StatsReading {
  const cpu = b.cpu_stats;
  const system = num(cpu?.system_cpu_usage);
  const net = sumNetworks(b.networks);
  const io = blockIo(b.blkio_stats);
  const limit = num(b.memory_stats?.limit);
  return {
    at: readTime(b.read) ?? receivedAt,
    cpuTotalNs: num(cpu?.cpu_usage?.total_usage),
    systemCpuNs: system !== null && system > 0 ? system : null,
    onlineCpus: num(cpu?.online_cpus) || cpu?.cpu_usage?.percpu_usage?.length || 1,
    memoryUsedBytes: memoryUsed(b.memory_stats),
    memoryLimitBytes: limit !== null && limit > 0 ? limit : null,
    netRxBytes: net?.rx ?? null,
    netTxBytes: net?.tx ?? null,
    blockReadBytes: io?.read ?? null,
    blockWriteBytes: io?.write ?? null,
    pids: num(b.pids_stats?.current),
  };
}

/** How far Δ host CPU may stray from online CPUs × Δ wall before the wall clock is used instead. */
export const SYSTEM_CPU_TOLERANCE = 0.2;

/** CPU % between two readings of the same container; null without a usable delta (first reading, counter reset). */
export function cpuPercent(prev: StatsReading | null, cur: StatsReading): number | null {
  if (!prev || prev.cpuTotalNs === null || cur.cpuTotalNs === null) return null;
  const dCpu = cur.cpuTotalNs - prev.cpuTotalNs;
  if (dCpu < 0) return null; // restarted: the counter began again
  const dWallNs = (cur.at - prev.at) * 1e6;
  if (prev.systemCpuNs !== null && cur.systemCpuNs !== null) {
    const dSys = cur.systemCpuNs - prev.systemCpuNs;
    // the host counter advances by online CPUs × wall time; where it strays from that, it was not read together
    // with the container's counter (seen with Podman under load: +40 %), and the wall clock is the better measure
    const consistent = dWallNs <= 0 || Math.abs(dSys / (dWallNs * cur.onlineCpus) - 1) <= SYSTEM_CPU_TOLERANCE;
    if (dSys > 0 && consistent) return (dCpu / dSys) * cur.onlineCpus * 100;
  }
  return dWallNs > 0 ? (dCpu / dWallNs) * 100 : null;
}

function perSec(prev: number | null | undefined, cur: number | null, dtSec: number): number | null {
  if (prev === null || prev === undefined || cur === null || dtSec <= 0 || cur < prev) return null;
  return Math.round((cur - prev) / dtSec);
}

/** Every figure of a container from our previous reading (null for the first) and the current one. */
export function computeStats(prev: StatsReading | null, cur: StatsReading): ContainerStats {
  const dt = prev ? (cur.at - prev.at) / 1000 : 0;
  const cpu = cpuPercent(prev, cur);
  const used = cur.memoryUsedBytes;
  const limit = cur.memoryLimitBytes;
  return {
    cpuPercent: cpu === null ? null : round(cpu, 1),
    memoryUsedMiB: used === null ? null : round(used / MiB, 1),
    memoryLimitMiB: limit === null ? null : round(limit / MiB, 1),
    memoryPercent: used !== null && limit !== null ? round((used / limit) * 100, 1) : null,
    netRxBytesPerSec: perSec(prev?.netRxBytes, cur.netRxBytes, dt),
    netTxBytesPerSec: perSec(prev?.netTxBytes, cur.netTxBytes, dt),
    blockReadBytes: cur.blockReadBytes,
    blockWriteBytes: cur.blockWriteBytes,
    pids: cur.pids,
  };
}

/**
 * Per-container memory of the previous reading. `update` takes a new reading and returns the figures; a reading
 * that is not newer than the previous one (a stream that has not sent a new frame since the last sample — Podman
 * sends one every 5 s) keeps the figures computed last time instead of reporting a 0/0 rate.
 */
export class StatsTracker {
  private prev = new Map<string, { reading: StatsReading; stats: ContainerStats }>();

  update(id: string, cur: StatsReading): ContainerStats {
    const p = this.prev.get(id);
    if (p && cur.at <= p.reading.at) return p.stats;
    const stats = computeStats(p?.reading ?? null, cur);
    this.prev.set(id, { reading: cur, stats });
    return stats;
  }

  /** Forget a container (stopped or removed): its next reading starts afresh. */
  forget(id: string): void {
    this.prev.delete(id);
  }

  /** Forget every container not in `ids`. */
  retain(ids: Set<string>): void {
    for (const id of this.prev.keys()) if (!ids.has(id)) this.prev.delete(id);
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * What the scheduler may hand out on a node (pure): capacity from the monitor snapshot, replaced per resource by
 * a declared inventory from the config file, plus who uses each GPU (processes, containers with `--gpus`),
 * attributed to an allocation where the caller knows it. Usage attributed to no active allocation is
 * "unmanaged": it reduces what is free (see ledger.ts) and opens a schedule_conflict (see engine.ts).
 */
import { z } from 'zod';
import type { ResourceStatus } from '../../shared/resources.ts';

/**
 * The `scheduler` part of the config file that declares what the node has, e.g.
 * `{"resources": {"cpu": 8000, "memoryMiB": 16384, "gpus": [{"index": 0, "memoryMiB": 16384, "name": "A"}]}}`.
 * Each resource it names replaces what the monitor reports (so a machine without GPUs, or a simulator, can schedule
 * GPUs); resources it leaves out still come from the monitor. `gpus: []` hides every GPU from the scheduler.
 */
export const DeclaredInventorySchema = z.strictObject({
  resources: z.strictObject({
    /** millicores */
    cpu: z.int().min(0).max(10_000_000).optional(),
    memoryMiB: z.int().min(0).max(2 ** 31).optional(),
    gpus: z
      .array(z.strictObject({
        index: z.int().min(0).max(1023),
        memoryMiB: z.int().min(1).max(2 ** 31),
        name: z.string().max(256).optional(),
        /** matches the monitor's GPU of that uuid (for its processes); else matched by index */
        uuid: z.string().max(256).optional(),
      }))
      .max(1024)
      .refine((g) => new Set(g.map((x) => x.index)).size === g.length, { message: 'GPU indices must be unique' })
      .optional(),
  }),
});
export type DeclaredInventory = z.infer<typeof DeclaredInventorySchema>;

/** A process or container seen using a GPU. */
export interface GpuUsage {
  pid: number | null;
  containerId: string | null;
  name: string;
  gpuIndex: number;
  /** null where the driver does not say (a container with `--gpus` and no process yet) */
  usedMemoryMiB: number | null;
  /** the allocation it runs under, as the caller's `ownerOf` says; null: unmanaged */
  allocationId: string | null;
}

export interface InventoryGpu {
  index: number;
  uuid: string | null;
  name: string;
  memoryMiB: number;
  /** false while the driver reports the GPU in error (or without its memory size): nothing is placed on it */
  available: boolean;
  declared: boolean;
  usages: GpuUsage[];
}

/** Capacity of one node. `null`: not known yet (its source has not reported); the engine then keeps the last known figure. */
export interface Inventory {
  node: string;
  sampledAt: number;
  cpu: number | null;
  memoryMiB: number | null;
  gpus: InventoryGpu[] | null;
}

export interface InventoryOptions {
  /**
   * Which allocation a GPU user runs under (from the workloads layer: a pid or container it started for an
   * allocation); null or undefined: unmanaged. Default: every user is unmanaged.
   */
  ownerOf?: (user: { pid: number | null; containerId: string | null; processGroup?: number | null }) => string | null | undefined;
}

/**
 * Inventory from a snapshot. cpu = cores × 1000 millicores; memory = total MiB; each GPU with index, uuid and memory.
 * GPU users: every process of the snapshot's GPUs, and running containers that hold a GPU by device request
 * (`--gpus`) without a process on it yet (containers seen only through NVIDIA_VISIBLE_DEVICES are not counted:
 * CUDA images set it to "all" whether or not the container was given GPUs).
 */
export function inventoryFrom(snapshot: ResourceStatus, declared?: DeclaredInventory, opts: InventoryOptions = {}): Inventory {
  const d = declared?.resources;
  const ownerOf = opts.ownerOf ?? (() => null);
  const host = snapshot.host;
  const cpu = d?.cpu ?? (host ? host.cpu.cores * 1000 : null);
  const memoryMiB = d?.memoryMiB ?? (host ? Math.floor(host.memory.totalMiB) : null);

  const usages = collectUsages(snapshot, ownerOf);
  let gpus: InventoryGpu[] | null;
  if (d?.gpus) {
    gpus = d.gpus
      .map((g) => {
        const seen = snapshot.gpus.find((m) => (g.uuid ? m.uuid === g.uuid : m.index === g.index));
        return {
          index: g.index,
          uuid: g.uuid ?? seen?.uuid ?? null,
          name: g.name ?? seen?.name ?? `GPU ${g.index}`,
          memoryMiB: g.memoryMiB,
          available: true,
          declared: true,
          usages: seen ? usages.filter((u) => u.gpuIndex === seen.index).map((u) => ({ ...u, gpuIndex: g.index })) : [],
        };
      })
      .sort((a, b) => a.index - b.index);
  } else {
    const gpuSource = snapshot.sources['gpu']?.status;
    // starting and nothing reported yet: unknown; absent (--no-gpu) or unavailable (no driver): none
    gpus = gpuSource === 'starting' && snapshot.gpus.length === 0
      ? null
      : snapshot.gpus
        .map((g) => ({
          index: g.index,
          uuid: g.uuid,
          name: g.name,
          memoryMiB: Math.floor(g.memoryTotalMiB ?? 0),
          available: g.status === 'ok' && (g.memoryTotalMiB ?? 0) > 0,
          declared: false,
          usages: usages.filter((u) => u.gpuIndex === g.index),
        }))
        .sort((a, b) => a.index - b.index);
  }
  return { node: snapshot.node, sampledAt: snapshot.sampledAt, cpu, memoryMiB, gpus };
}

function collectUsages(snapshot: ResourceStatus, ownerOf: NonNullable<InventoryOptions['ownerOf']>): GpuUsage[] {
  const out: GpuUsage[] = [];
  const byContainerGpu = new Set<string>();
  for (const g of snapshot.gpus) {
    for (const p of g.processes) {
      const gpuIndex = p.gpuIndex ?? g.index;
      out.push({
        pid: p.pid,
        containerId: p.containerId,
        name: p.containerName ? `${p.name} (${p.containerName})` : p.name,
        gpuIndex,
        usedMemoryMiB: p.usedMemoryMiB,
        allocationId: ownerOf({ pid: p.pid, containerId: p.containerId, processGroup: p.processGroup ?? null }) ?? null,
      });
      if (p.containerId) byContainerGpu.add(`${p.containerId}:${gpuIndex}`);
    }
  }
  for (const c of snapshot.containers) {
    if (c.state !== 'running') continue;
    for (const cg of c.gpus) {
      if (cg.via !== 'device_request' || cg.index === null || byContainerGpu.has(`${c.id}:${cg.index}`)) continue;
      byContainerGpu.add(`${c.id}:${cg.index}`);
      out.push({
        pid: null,
        containerId: c.id,
        name: c.name,
        gpuIndex: cg.index,
        usedMemoryMiB: null,
        allocationId: ownerOf({ pid: null, containerId: c.id }) ?? null,
      });
    }
  }
  return out;
}

/** An inventory declared in full (for the simulator and tests): no monitor involved. */
export function declaredInventory(node: string, declared: DeclaredInventory, at = 0): Inventory {
  const r = declared.resources;
  return {
    node,
    sampledAt: at,
    cpu: r.cpu ?? 0,
    memoryMiB: r.memoryMiB ?? 0,
    gpus: (r.gpus ?? [])
      .map((g) => ({ index: g.index, uuid: g.uuid ?? null, name: g.name ?? `GPU ${g.index}`, memoryMiB: g.memoryMiB, available: true, declared: true, usages: [] }))
      .sort((a, b) => a.index - b.index),
  };
}

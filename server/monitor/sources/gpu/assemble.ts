/**
 * The latest picture of every GPU from what the children last printed: `--query-gpu` rows (figures),
 * "Unable to determine the device handle" lines (a lost GPU), `--query-compute-apps` rows (live compute
 * processes) and the last `-q -x` inventory (MIG instances, graphics processes, process → MIG instance).
 */
import type { Gpu, GpuProcess } from '../../../../shared/resources.ts';
import type { AppRow, GpuRow } from './csv.ts';
import { gpuHealth, type GpuThresholds } from './health.ts';
import type { ProcOwner } from './procinfo.ts';
import type { XmlGpu, XmlInventory } from './xml.ts';

export interface Seen<T> {
  value: T;
  at: number;
}

export interface AssembleInput {
  now: number;
  rows: Iterable<Seen<GpuRow>>;
  /** bus id → the handle error line, for GPUs the driver cannot reach */
  lost: Map<string, Seen<string>>;
  apps: Iterable<Seen<AppRow>>;
  /** the compute-apps loop is up and reporting: XML compute processes it does not list have ended */
  appsLive: boolean;
  xml: XmlInventory | null;
  owners: Map<number, ProcOwner>;
  /** a GPU whose row is older than this (while others report) is `error` */
  staleAfterMs: number;
  thresholds: GpuThresholds;
}

/** The pids the assembled processes will have, to read their owners first. */
export function processPids(apps: Iterable<Seen<AppRow>>, xml: XmlInventory | null): number[] {
  const pids = new Set<number>();
  for (const a of apps) pids.add(a.value.pid);
  for (const g of xml?.gpus ?? []) for (const p of g.processes) pids.add(p.pid);
  return [...pids];
}

interface Entry {
  row: Seen<GpuRow> | null;
  xml: XmlGpu | null;
  busId: string | null;
  error: string | null;
}

export function assemble(input: AssembleInput): Gpu[] {
  const { now, xml } = input;
  const xmlByUuid = new Map<string, XmlGpu>();
  const xmlByBus = new Map<string, XmlGpu>();
  for (const g of xml?.gpus ?? []) {
    if (g.uuid) xmlByUuid.set(g.uuid, g);
    if (g.busId) xmlByBus.set(g.busId, g);
  }

  const entries: Entry[] = [];
  const byBus = new Map<string, Entry>();
  for (const row of input.rows) {
    const r = row.value;
    const x = xmlByUuid.get(r.uuid) ?? (r.pciBusId ? xmlByBus.get(r.pciBusId) : undefined) ?? null;
    const busId = r.pciBusId ?? x?.busId ?? null;
    const e: Entry = { row, xml: x, busId, error: null };
    if (now - row.at > input.staleAfterMs) e.error = `no figures from nvidia-smi for this GPU for ${now - row.at} ms`;
    entries.push(e);
    if (busId) byBus.set(busId, e);
  }
  for (const [busId, line] of input.lost) {
    let e = byBus.get(busId);
    if (!e) {
      // never reported since start: known from the inventory, or not at all
      e = { row: null, xml: xmlByBus.get(busId) ?? null, busId, error: null };
      entries.push(e);
      byBus.set(busId, e);
    }
    // a row newer than the error line means the GPU is back
    if (!e.row || e.row.at <= line.at) e.error = line.value;
  }

  let nextIndex = Math.max(-1, ...entries.map((e) => e.row?.value.index ?? e.xml?.position ?? -1)) + 1;
  const appsByUuid = new Map<string, AppRow[]>();
  for (const a of input.apps) {
    const list = appsByUuid.get(a.value.gpuUuid) ?? [];
    list.push(a.value);
    appsByUuid.set(a.value.gpuUuid, list);
  }

  const gpus = entries.map((e): Gpu => {
    const r = e.row?.value ?? null;
    const x = e.xml;
    const index = r?.index ?? x?.position ?? nextIndex++;
    const uuid = r?.uuid ?? x?.uuid ?? '';
    const base: Omit<Gpu, 'health'> = {
      index,
      uuid,
      name: r?.name ?? x?.name ?? 'unknown GPU',
      pciBusId: e.busId,
      driverVersion: r?.driverVersion ?? xml?.driverVersion ?? null,
      status: e.error ? 'error' : 'ok',
      ...(e.error ? { message: e.error } : {}),
      utilizationGpuPercent: r?.utilizationGpuPercent ?? null,
      utilizationMemoryPercent: r?.utilizationMemoryPercent ?? null,
      // static figures fall back to the inventory when the driver does not know the CSV field
      memoryTotalMiB: r?.memoryTotalMiB ?? x?.memoryTotalMiB ?? null,
      memoryUsedMiB: r?.memoryUsedMiB ?? null,
      memoryFreeMiB: r?.memoryFreeMiB ?? null,
      temperatureC: r?.temperatureC ?? null,
      powerDrawW: r?.powerDrawW ?? null,
      powerLimitW: r?.powerLimitW ?? x?.powerLimitW ?? null,
      fanPercent: r?.fanPercent ?? null,
      pstate: r?.pstate ?? null,
      clockSmMHz: r?.clockSmMHz ?? null,
      clockMemMHz: r?.clockMemMHz ?? null,
      migMode: r?.migMode ?? x?.migMode ?? null,
      eccErrorsCorrected: r?.eccErrorsCorrected ?? null,
      eccErrorsUncorrected: r?.eccErrorsUncorrected ?? null,
      throttleReasons: r ? [...r.throttleReasons] : [],
      migInstances: x ? x.migInstances.map((m) => ({ ...m })) : [],
      processes: processes(uuid, index, appsByUuid.get(uuid) ?? [], x, input),
      sampledAt: e.row?.at ?? now,
    };
    return { ...base, health: gpuHealth(base, input.thresholds) };
  });
  return gpus.sort((a, b) => a.index - b.index);
}

/** Live compute rows merged with the inventory's processes by pid; graphics-only processes come from the inventory. */
function processes(uuid: string, gpuIndex: number, live: AppRow[], x: XmlGpu | null, input: AssembleInput): GpuProcess[] {
  const fromXml = new Map((x?.processes ?? []).map((p) => [p.pid, p]));
  const out: GpuProcess[] = [];
  const seen = new Set<number>();
  const owner = (pid: number) => input.owners.get(pid) ?? { user: null, containerId: null };
  for (const a of live) {
    if (seen.has(a.pid)) continue;
    seen.add(a.pid);
    const p = fromXml.get(a.pid);
    out.push({
      pid: a.pid,
      name: a.name,
      type: p?.type ?? null,
      usedMemoryMiB: a.usedMemoryMiB ?? p?.usedMemoryMiB ?? null,
      gpuUuid: uuid,
      gpuIndex,
      gpuInstanceId: p?.gpuInstanceId ?? null,
      computeInstanceId: p?.computeInstanceId ?? null,
      ...owner(a.pid),
    });
  }
  for (const p of fromXml.values()) {
    if (seen.has(p.pid)) continue;
    // a compute process the live loop no longer lists has ended since the inventory was taken
    if (input.appsLive && p.type !== 'G') continue;
    seen.add(p.pid);
    out.push({
      pid: p.pid,
      name: p.name,
      type: p.type,
      usedMemoryMiB: p.usedMemoryMiB,
      gpuUuid: uuid,
      gpuIndex,
      gpuInstanceId: p.gpuInstanceId,
      computeInstanceId: p.computeInstanceId,
      ...owner(p.pid),
    });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/**
 * Lines of the two long-lived `--format=csv,noheader,nounits` loops. nvidia-smi separates cells with ", " and
 * quotes nothing, so a cell that contains ", " (a process command line) can only be read when it is the last
 * column: rows are split a bounded number of times.
 */
import type { FieldPlan, GpuFigures, ThrottleReason } from './fields.ts';
import { THROTTLE_REASONS } from './fields.ts';
import { busId, cell, flag, int, num } from './values.ts';

/** Split into at most `cells` cells on ", "; the last cell keeps any further separators. */
export function splitBounded(line: string, cells: number): string[] {
  const out: string[] = [];
  let from = 0;
  while (out.length < cells - 1) {
    const at = line.indexOf(', ', from);
    if (at < 0) break;
    out.push(line.slice(from, at));
    from = at + 2;
  }
  out.push(line.slice(from));
  return out;
}

/** Figures of one GPU from one `--query-gpu` line. */
export interface GpuRow extends GpuFigures {
  index: number;
  uuid: string;
  name: string | null;
  pciBusId: string | null;
  driverVersion: string | null;
  migMode: boolean | null;
}

/** A `--query-gpu` line → figures, or null when the line is not a row of this query (wrong cell count, no index/uuid). */
export function parseGpuRow(line: string, plan: FieldPlan): GpuRow | null {
  // GPU names contain no ", "; a row with another cell count is not ours
  const cells = line.split(', ');
  if (cells.length !== plan.fields.length) return null;
  const pick = <T>(metric: string, read: (s: string) => T | null): T | null => {
    for (const col of plan.columns[metric] ?? []) {
      const v = read(cells[col]!);
      if (v !== null) return v;
    }
    return null;
  };
  const index = pick('index', int);
  const uuid = pick('uuid', cell);
  if (index === null || index < 0 || uuid === null || !/^(GPU|MIG)-/i.test(uuid)) return null;
  const throttleReasons: ThrottleReason[] = [];
  for (const r of THROTTLE_REASONS) if (pick(`throttle.${r}`, flag) === true) throttleReasons.push(r);
  return {
    index,
    uuid,
    name: pick('name', cell),
    pciBusId: pick('pciBusId', busId),
    driverVersion: pick('driverVersion', cell),
    utilizationGpuPercent: pick('utilizationGpu', num),
    utilizationMemoryPercent: pick('utilizationMemory', num),
    memoryTotalMiB: pick('memoryTotal', num),
    memoryUsedMiB: pick('memoryUsed', num),
    memoryFreeMiB: pick('memoryFree', num),
    temperatureC: pick('temperature', num),
    powerDrawW: pick('powerDraw', num),
    powerLimitW: pick('powerLimit', num),
    fanPercent: pick('fan', num),
    pstate: pick('pstate', cell),
    clockSmMHz: pick('clockSm', num),
    clockMemMHz: pick('clockMem', num),
    migMode: pick('migMode', flag),
    eccErrorsCorrected: pick('eccCorrected', num),
    eccErrorsUncorrected: pick('eccUncorrected', num),
    throttleReasons,
  };
}

/** The `--query-compute-apps` fields, process name last so that a name with ", " stays whole. */
export const APPS_FIELDS = ['gpu_uuid', 'pid', 'used_gpu_memory', 'process_name'] as const;

export interface AppRow {
  gpuUuid: string;
  pid: number;
  usedMemoryMiB: number | null;
  name: string;
}

export function parseAppRow(line: string): AppRow | null {
  const cells = splitBounded(line, APPS_FIELDS.length);
  if (cells.length !== APPS_FIELDS.length) return null;
  const [uuid, pidText, mem, name] = cells as [string, string, string, string];
  const gpuUuid = cell(uuid);
  const pid = int(pidText);
  if (gpuUuid === null || !/^(GPU|MIG)-/i.test(gpuUuid) || pid === null || pid < 0) return null;
  // a name nvidia-smi cannot read is [N/A] / [Insufficient Permissions]: keep the row, name it by pid
  return { gpuUuid, pid, usedMemoryMiB: num(mem), name: cell(name) ?? `pid ${pid}` };
}

/** `Unable to determine the device handle for GPU 0000:0B:00.0: Unknown Error` → the GPU and the whole message. */
export function parseHandleError(line: string): { busId: string; message: string } | null {
  const m = /^Unable to determine the device handle for GPU\s*([0-9a-fA-F]+:[0-9a-fA-F]+:[0-9a-fA-F]+\.[0-7])\s*:?/.exec(line.trim());
  return m ? { busId: busId(m[1])!, message: line.trim() } : null;
}

/** Lines nvidia-smi prints (on stdout) when it cannot work at all: they are its error message, not garbage. */
export function isDriverMessage(line: string): boolean {
  return /^(NVIDIA-SMI has failed|Failed to initialize NVML|NVML library version|No devices were found|Unable to determine the number of GPUs|Field ".*" is not a valid field|Make sure that the latest NVIDIA driver|Insufficient Permissions)/i.test(
    line.trim(),
  );
}

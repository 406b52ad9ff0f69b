/**
 * `nvidia-smi -q -x` (`<nvidia_smi_log>`, DTD v9 … v13) → inventory: GPUs with identity, MIG instances and
 * every process (graphics ones included, which --query-compute-apps does not list), plus the figures, read
 * from whichever element name the schema version uses:
 *   power    v9–v11 `power_readings/power_draw`; v12+ `gpu_power_readings/{average,instant}_power_draw`
 *   throttle `clocks_throttle_reasons/clocks_throttle_reason_*`; v12+ `clocks_event_reasons/clocks_event_reason_*`
 *   ECC      ≤ v10/v11 `volatile/{single_bit,double_bit}/total`; newer `volatile/{sram,dram}_(un)correctable*`
 */
import { XMLParser } from 'fast-xml-parser';
import type { MigInstance } from '../../../../shared/resources.ts';
import { THROTTLE_REASONS, type GpuFigures, type ThrottleReason } from './fields.ts';
import { busId, cell, flag, int, num } from './values.ts';

export interface XmlProcess {
  pid: number;
  type: 'C' | 'G' | 'C+G' | null;
  name: string;
  usedMemoryMiB: number | null;
  gpuInstanceId: number | null;
  computeInstanceId: number | null;
}

export interface XmlGpu extends GpuFigures {
  /** position in the document: nvidia-smi lists GPUs in index order */
  position: number;
  busId: string | null;
  uuid: string | null;
  name: string | null;
  minorNumber: number | null;
  migMode: boolean | null;
  migInstances: MigInstance[];
  processes: XmlProcess[];
}

export interface XmlInventory {
  driverVersion: string | null;
  cudaVersion: string | null;
  /** DTD version from the DOCTYPE (`nvsmi_device_v12.dtd` → 12); null when there is none */
  schemaVersion: number | null;
  gpus: XmlGpu[];
}

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (name) => name === 'gpu' || name === 'mig_device' || name === 'process_info',
  // the clock tables are most of a document (≈ 80 % of the 66 KB RTX 4000 one) and are not read: kept as raw text
  stopNodes: ['*.supported_clocks', '*.accounted_processes', '*.retired_pages', '*.remapped_rows', '*.fabric'],
});

function obj(v: unknown): Node {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Node) : {};
}

function list(v: unknown): Node[] {
  return Array.isArray(v) ? v.map(obj) : [];
}

/** Text of a path of elements, or undefined. */
function text(node: Node, ...path: string[]): string | undefined {
  let cur: unknown = node;
  for (const p of path) cur = obj(cur)[p];
  if (typeof cur === 'string') return cur;
  if (typeof cur === 'number') return String(cur);
  return undefined;
}

function firstNum(node: Node, ...paths: string[][]): number | null {
  for (const p of paths) {
    const v = num(text(node, ...p));
    if (v !== null) return v;
  }
  return null;
}

/** Sum of the present counters, null when none is present. */
function sum(values: (number | null)[]): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length ? present.reduce((a, b) => a + b, 0) : null;
}

function ecc(gpu: Node, kind: 'corrected' | 'uncorrected'): number | null {
  const vol = obj(obj(gpu.ecc_errors).volatile);
  const old = num(text(vol, kind === 'corrected' ? 'single_bit' : 'double_bit', 'total'));
  if (old !== null) return old;
  if (kind === 'corrected') return sum([num(text(vol, 'sram_correctable')), num(text(vol, 'dram_correctable'))]);
  return sum([
    num(text(vol, 'sram_uncorrectable')), num(text(vol, 'sram_uncorrectable_parity')),
    num(text(vol, 'sram_uncorrectable_secded')), num(text(vol, 'dram_uncorrectable')),
  ]);
}

function throttle(gpu: Node): ThrottleReason[] {
  const ev = obj(gpu.clocks_event_reasons);
  const th = obj(gpu.clocks_throttle_reasons);
  return THROTTLE_REASONS.filter(
    (r) => flag(text(ev, `clocks_event_reason_${r}`)) === true || flag(text(th, `clocks_throttle_reason_${r}`)) === true,
  );
}

function processType(v: string | undefined): XmlProcess['type'] {
  const s = cell(v)?.toUpperCase();
  return s === 'C' || s === 'G' || s === 'C+G' ? s : null;
}

function migInstances(gpu: Node): MigInstance[] {
  const out: MigInstance[] = [];
  for (const d of list(obj(gpu.mig_devices).mig_device)) {
    const gi = int(text(d, 'gpu_instance_id'));
    if (gi === null) continue;
    out.push({
      gpuInstanceId: gi,
      computeInstanceId: int(text(d, 'compute_instance_id')),
      // -q -x does not name the profile (3g.40gb): see GpuSource docs
      profile: cell(text(d, 'profile')) ?? null,
      memoryTotalMiB: num(text(d, 'fb_memory_usage', 'total')),
      memoryUsedMiB: num(text(d, 'fb_memory_usage', 'used')),
      smCount: int(text(d, 'device_attributes', 'shared', 'multiprocessor_count')),
    });
  }
  return out;
}

function processes(gpu: Node): XmlProcess[] {
  const out: XmlProcess[] = [];
  for (const p of list(obj(gpu.processes).process_info)) {
    const pid = int(text(p, 'pid'));
    if (pid === null) continue;
    out.push({
      pid,
      type: processType(text(p, 'type')),
      name: cell(text(p, 'process_name')) ?? `pid ${pid}`,
      usedMemoryMiB: num(text(p, 'used_memory')),
      gpuInstanceId: int(text(p, 'gpu_instance_id')),
      computeInstanceId: int(text(p, 'compute_instance_id')),
    });
  }
  return out;
}

function readGpu(g: Node, position: number): XmlGpu {
  const power = obj(g.gpu_power_readings);
  const oldPower = obj(g.power_readings);
  const pw = { ...oldPower, ...power };
  return {
    position,
    busId: busId(text(g, 'pci', 'pci_bus_id') ?? text(g, '@id')),
    uuid: cell(text(g, 'uuid')),
    name: cell(text(g, 'product_name')),
    minorNumber: int(text(g, 'minor_number')),
    migMode: flag(text(g, 'mig_mode', 'current_mig')),
    migInstances: migInstances(g),
    processes: processes(g),
    utilizationGpuPercent: num(text(g, 'utilization', 'gpu_util')),
    utilizationMemoryPercent: num(text(g, 'utilization', 'memory_util')),
    memoryTotalMiB: num(text(g, 'fb_memory_usage', 'total')),
    memoryUsedMiB: num(text(g, 'fb_memory_usage', 'used')),
    memoryFreeMiB: num(text(g, 'fb_memory_usage', 'free')),
    temperatureC: num(text(g, 'temperature', 'gpu_temp')),
    powerDrawW: firstNum(pw, ['average_power_draw'], ['power_draw'], ['instant_power_draw']),
    powerLimitW: firstNum(pw, ['enforced_power_limit'], ['current_power_limit'], ['power_limit']),
    fanPercent: num(text(g, 'fan_speed')),
    pstate: cell(text(g, 'performance_state')),
    clockSmMHz: num(text(g, 'clocks', 'sm_clock')),
    clockMemMHz: num(text(g, 'clocks', 'mem_clock')),
    eccErrorsCorrected: ecc(g, 'corrected'),
    eccErrorsUncorrected: ecc(g, 'uncorrected'),
    throttleReasons: throttle(g),
  };
}

/** Parse a whole `nvidia-smi -q -x` document; throws when it is not one. */
export function parseNvidiaSmiXml(xml: string): XmlInventory {
  const doc = obj(parser.parse(xml));
  if (!('nvidia_smi_log' in doc)) throw new Error('not an nvidia-smi -q -x document (no <nvidia_smi_log>)');
  const log = obj(doc.nvidia_smi_log);
  const dtd = /nvsmi_device_v(\d+)\.dtd/.exec(xml.slice(0, 300));
  return {
    driverVersion: cell(text(log, 'driver_version')),
    cudaVersion: cell(text(log, 'cuda_version')),
    schemaVersion: dtd ? Number(dtd[1]) : null,
    gpus: list(log.gpu).map(readGpu),
  };
}

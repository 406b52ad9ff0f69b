/**
 * Which `--query-gpu` fields to ask for. One field the driver does not know fails the whole query (exit 2,
 * `Field "x" is not a valid field to query.`), so the list is read once from `--help-query-gpu` and every
 * wanted figure names its candidates, newest spelling first: fields the driver does not list are dropped,
 * aliases of one field (`"a" or "b"` in the help) are asked once, and distinct fields that measure the same
 * thing (power.draw.average / power.draw / power.draw.instant) are all asked, the first non-null cell wins.
 */
import type { Gpu } from '../../../../shared/resources.ts';

/** The throttle ("clocks event" since driver 530) reasons reported in `Gpu.throttleReasons`. */
export const THROTTLE_REASONS = [
  'gpu_idle', 'applications_clocks_setting', 'sw_power_cap', 'hw_slowdown', 'hw_thermal_slowdown',
  'hw_power_brake_slowdown', 'sw_thermal_slowdown', 'sync_boost',
] as const;
export type ThrottleReason = (typeof THROTTLE_REASONS)[number];

/** Figures read from the `--query-gpu` CSV, each with its candidate fields in order of preference. */
export const METRICS = {
  index: ['index'],
  uuid: ['uuid', 'gpu_uuid'],
  name: ['name', 'gpu_name'],
  pciBusId: ['pci.bus_id', 'gpu_bus_id'],
  driverVersion: ['driver_version', 'kmd_version'],
  utilizationGpu: ['utilization.gpu'],
  utilizationMemory: ['utilization.memory'],
  memoryTotal: ['memory.total'],
  memoryUsed: ['memory.used'],
  memoryFree: ['memory.free'],
  temperature: ['temperature.gpu'],
  // average is what nvidia-smi's own table shows; Windows drivers leave it [N/A] and fill power.draw
  powerDraw: ['power.draw.average', 'power.draw', 'power.draw.instant'],
  powerLimit: ['enforced.power.limit', 'power.limit'],
  fan: ['fan.speed'],
  pstate: ['pstate'],
  clockSm: ['clocks.current.sm', 'clocks.sm'],
  clockMem: ['clocks.current.memory', 'clocks.mem'],
  migMode: ['mig.mode.current'],
  // volatile = since the driver was last loaded; aggregate is the lifetime count
  eccCorrected: ['ecc.errors.corrected.volatile.total'],
  eccUncorrected: ['ecc.errors.uncorrected.volatile.total'],
  ...Object.fromEntries(THROTTLE_REASONS.map((r) => [`throttle.${r}`, [`clocks_event_reasons.${r}`, `clocks_throttle_reasons.${r}`]])),
} as Record<string, readonly string[]>;

export type Metric = keyof typeof METRICS;

/** The fields a driver knows, from `--help-query-gpu`, with the alias groups (`"a" or "b"` lines). */
export interface HelpFields {
  valid: Set<string>;
  /** field → the first spelling of its alias group */
  canonical: Map<string, string>;
}

/** Read `nvidia-smi --help-query-gpu`: every line that starts with a quoted name lists one field and its aliases. */
export function parseHelpQueryGpu(text: string): HelpFields {
  const valid = new Set<string>();
  const canonical = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line.startsWith('"')) continue;
    const names = [...line.matchAll(/"([A-Za-z0-9_.]+)"/g)].map((m) => m[1]!);
    // a description can quote values too ("Supported" or "[Not Supported]"): only `"a"` or `"a" or "b"` lines name fields
    if (!names.length || !/^"[^"]+"(?:\s+or\s+"[^"]+")*\s*$/.test(line)) continue;
    for (const n of names) {
      valid.add(n);
      canonical.set(n, names[0]!);
    }
  }
  return { valid, canonical };
}

/** The query: fields in the order they are asked, and for each figure the CSV columns to read, in preference order. */
export interface FieldPlan {
  fields: string[];
  columns: Record<string, number[]>;
  /** wanted fields the driver does not know (left out of the query) */
  dropped: string[];
  /** figures none of whose fields the driver knows: always null */
  missing: string[];
}

export function planFields(help: HelpFields): FieldPlan {
  const fields: string[] = [];
  const columns: Record<string, number[]> = {};
  const dropped: string[] = [];
  const asked = new Map<string, number>(); // canonical name → column
  for (const [metric, candidates] of Object.entries(METRICS)) {
    const cols: number[] = [];
    for (const f of candidates) {
      if (!help.valid.has(f)) {
        dropped.push(f);
        continue;
      }
      const key = help.canonical.get(f) ?? f;
      let col = asked.get(key);
      if (col === undefined) {
        col = fields.length;
        fields.push(f);
        asked.set(key, col);
      }
      if (!cols.includes(col)) cols.push(col);
    }
    columns[metric] = cols;
  }
  if (!columns.index?.length || !columns.uuid?.length) {
    throw new Error('nvidia-smi --help-query-gpu does not list "index" and "uuid": cannot build a query');
  }
  const missing = Object.keys(columns).filter((m) => columns[m]!.length === 0);
  return { fields, columns, dropped: [...new Set(dropped)], missing };
}

/** The live figures of a GPU, as both the CSV loop and the XML inventory give them. */
export type GpuFigures = Pick<Gpu,
  | 'utilizationGpuPercent' | 'utilizationMemoryPercent' | 'memoryTotalMiB' | 'memoryUsedMiB' | 'memoryFreeMiB'
  | 'temperatureC' | 'powerDrawW' | 'powerLimitW' | 'fanPercent' | 'pstate' | 'clockSmMHz' | 'clockMemMHz'
  | 'eccErrorsCorrected' | 'eccErrorsUncorrected'> & { throttleReasons: ThrottleReason[] };

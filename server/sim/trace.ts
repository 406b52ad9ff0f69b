/**
 * Reader for the Alibaba GPU cluster trace v2023 ("openb", Weng et al., USENIX ATC '23): the pod list
 * (`openb_pod_list_*.csv`) and the node lists (`openb_node_list_*.csv`), and the mapping of pods to replay jobs in
 * our units. The data is research-use: it is read from where it lies (e.g. ../shared/traces/), never shipped.
 *
 * Pod → job (`podsToJobs`):
 * - submitAtMs = startMs + creation_time·1000; jobs are sorted by it (ties keep the file's order).
 * - durationMs = (deletion_time − scheduled_time)·1000. Pods never scheduled (empty scheduled_time: `Pending`)
 *   have no duration: `unscheduled: 'median'` (default) gives them the median (nearest rank, the lower middle)
 *   duration of the scheduled pods of the same list, and `cancelAfterMs` = (deletion − creation)·1000, when the
 *   trace deleted them still waiting (a replay may cancel them then); `unscheduled: 'skip'` leaves them out.
 * - resources: cpu = cpu_milli (millicores), memoryMiB = memory_mib, gpus = num_gpu whole GPUs; a pod with
 *   num_gpu 1 and 0 < gpu_milli < 1000 is fractional: gpus 0, gpuMemMiB = round(gpu_milli/1000 · gpuMemoryMiB)
 *   (at least 1). gpu_milli is ignored with any other num_gpu (it is meaningful only with num_gpu 1), and
 *   gpu_milli 0 or 1000 with num_gpu 1 is one whole GPU. gpu_spec (GPU models, `|`-separated) becomes the
 *   job's gpuModels when it asks GPUs: it goes only to GPUs of those models (a node list's `model`).
 * - priority from qos: LS 3 > Guaranteed 2 > Burstable 1 > BE 0; preemptible = qos BE (or every pod: `preemptible: 'all'`).
 * - owner: the trace has none. `ownerBy: 'hash'` (default): `owner-<k>`, k = stableHash(pod name) mod `owners`
 *   (default 8), stableHash being FNV-1a 32-bit with murmur3's finaliser — the same on every run and machine;
 *   `ownerBy: 'qos'`: `qos-<qos>`; or a function of the pod.
 * Malformed input throws TraceFormatError naming the source, the line (1 = header) and the column.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Resources } from '../../shared/scheduler.ts';

export const QOS_PRIORITY = { LS: 3, Guaranteed: 2, Burstable: 1, BE: 0 } as const;
export type Qos = keyof typeof QOS_PRIORITY;
export const POD_PHASES = ['Running', 'Succeeded', 'Failed', 'Pending'] as const;
export type PodPhase = (typeof POD_PHASES)[number];

/** One row of the pod list, as the trace says it (times in seconds from the trace start). */
export interface TracePod {
  name: string;
  cpuMilli: number;
  memoryMiB: number;
  numGpu: number;
  /** milli-GPU of one GPU (meaningful with numGpu 1) */
  gpuMilli: number;
  /** GPU models allowed (empty: any) */
  gpuSpec: string[];
  qos: Qos;
  podPhase: PodPhase;
  creationTime: number;
  deletionTime: number;
  /** null: never scheduled */
  scheduledTime: number | null;
}

/** One row of a node list. */
export interface TraceNode {
  sn: string;
  cpuMilli: number;
  memoryMiB: number;
  gpus: number;
  /** GPU model; null for CPU-only nodes */
  model: string | null;
}

/** A pod as the simulator submits it. */
export interface ReplayJob {
  /** the pod's name */
  id: string;
  owner: string;
  priority: number;
  preemptible: boolean;
  resources: Resources;
  submitAtMs: number;
  durationMs: number;
  /** false: never scheduled in the trace (durationMs is the median) */
  scheduled: boolean;
  /** the trace's own queueing delay (scheduled − creation); null when never scheduled */
  traceWaitMs: number | null;
  /** never scheduled: the trace deleted it after waiting this long */
  cancelAfterMs?: number;
  /** the GPU models it may use (gpu_spec), when it names some and asks GPUs */
  gpuModels?: string[];
  qos: Qos;
  podPhase: PodPhase;
}

export interface JobOptions {
  /** memory of one GPU, for fractional pods @default 16384 */
  gpuMemoryMiB?: number;
  /** owners the pod names are hashed into (ownerBy 'hash') @default 8 */
  owners?: number;
  /** @default 'hash' */
  ownerBy?: 'hash' | 'qos' | ((pod: TracePod) => string);
  /** pods never scheduled: median duration, or left out @default 'median' */
  unscheduled?: 'median' | 'skip';
  /** time of the trace start (submitAtMs of creation_time 0) @default 0 */
  startMs?: number;
  /** which pods may be preempted: the best-effort ones (qos BE), or all (jobs that checkpoint) @default 'be' */
  preemptible?: 'be' | 'all';
}

/** Memory per GPU model (nominal); G2 and G3 are undisclosed: use a default for them. */
export const GPU_MODEL_MEMORY_MIB: Readonly<Record<string, number>> = {
  P100: 16_384,
  T4: 16_384,
  V100M16: 16_384,
  V100M32: 32_768,
  A10: 24_576,
};

export class TraceFormatError extends Error {
  constructor(readonly source: string, readonly line: number, readonly column: string | null, detail: string) {
    super(`${source} line ${line}${column !== null ? `, column ${column}` : ''}: ${detail}`);
    this.name = 'TraceFormatError';
  }
}

// ------------------------------------------------------------------ CSV

const POD_COLUMNS = ['name', 'cpu_milli', 'memory_mib', 'num_gpu', 'gpu_milli', 'gpu_spec', 'qos', 'pod_phase', 'creation_time', 'deletion_time', 'scheduled_time'] as const;
const NODE_COLUMNS = ['sn', 'cpu_milli', 'memory_mib', 'gpu', 'model'] as const;

/** One CSV record per line (RFC 4180 quoting within a line; no line breaks inside fields). */
function splitLine(text: string, source: string, line: number): string[] {
  if (!text.includes('"')) return text.split(',');
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let v = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) throw new TraceFormatError(source, line, null, 'unterminated quoted field');
        v += text.slice(j, q);
        if (text[q + 1] === '"') {
          v += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      out.push(v);
      if (i === text.length) return out;
      if (text[i] !== ',') throw new TraceFormatError(source, line, null, `unexpected ${JSON.stringify(text[i])} after a quoted field`);
      i++;
    } else {
      const c = text.indexOf(',', i);
      if (c < 0) {
        out.push(text.slice(i));
        return out;
      }
      out.push(text.slice(i, c));
      i = c + 1;
    }
  }
}

/** Rows of a CSV with the named columns (any order, extra columns ignored): calls `row` with each record's fields. */
function readCsv<C extends string>(
  csv: string, columns: readonly C[], source: string,
  row: (field: (column: C) => string, line: number) => void,
): void {
  const lines = csv.split('\n');
  let first = lines[0] ?? '';
  if (first.charCodeAt(0) === 0xfeff) first = first.slice(1);
  const header = splitLine(first.replace(/\r$/, ''), source, 1).map((h) => h.trim());
  if (header.length === 1 && header[0] === '') throw new TraceFormatError(source, 1, null, `no header (expected ${columns.join(',')})`);
  const at = new Map<string, number>();
  header.forEach((h, i) => {
    if (at.has(h)) throw new TraceFormatError(source, 1, h, 'column appears twice');
    at.set(h, i);
  });
  const index = {} as Record<C, number>;
  for (const c of columns) {
    const i = at.get(c);
    if (i === undefined) throw new TraceFormatError(source, 1, c, `missing column (the header has ${header.join(',')})`);
    index[c] = i;
  }
  let fields: string[] = [];
  const field = (c: C): string => fields[index[c]]!;
  for (let n = 1; n < lines.length; n++) {
    let text = lines[n]!;
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text === '') continue;
    fields = splitLine(text, source, n + 1);
    if (fields.length !== header.length) throw new TraceFormatError(source, n + 1, null, `${fields.length} fields, the header has ${header.length}`);
    row(field, n + 1);
  }
}

/** Digits only (no sign, space, exponent or hex), as a number; -1 when not. */
function digits(v: string): number {
  const len = v.length;
  if (len === 0 || len > 15) return len > 15 && /^\d+$/.test(v) ? Number(v) : -1;
  let n = 0;
  for (let i = 0; i < len; i++) {
    const d = v.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function whole(v: string, source: string, line: number, column: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = digits(v);
  if (n < 0) throw new TraceFormatError(source, line, column, `expected a whole number ≥ 0, got ${JSON.stringify(v)}`);
  if (n > max) throw new TraceFormatError(source, line, column, `${n} is more than ${max}`);
  return n;
}

/** Seconds ≥ 0: digits, optionally with a decimal fraction. */
function seconds(v: string, source: string, line: number, column: string): number {
  const n = digits(v);
  if (n >= 0) return n;
  if (/^\d+\.\d+$/.test(v)) return Number(v);
  throw new TraceFormatError(source, line, column, `expected seconds ≥ 0, got ${JSON.stringify(v)}`);
}

function oneOf<T extends string>(v: string, allowed: readonly T[], source: string, line: number, column: string): T {
  if (!(allowed as readonly string[]).includes(v)) throw new TraceFormatError(source, line, column, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

const QOS = Object.keys(QOS_PRIORITY) as Qos[];

/** Parse a pod list (`openb_pod_list_*.csv`). `source` names the input in errors. */
export function parsePods(csv: string, source = 'pod list'): TracePod[] {
  const pods: TracePod[] = [];
  readCsv(csv, POD_COLUMNS, source, (f, line) => {
    const name = f('name');
    if (!name) throw new TraceFormatError(source, line, 'name', 'empty');
    const creationTime = seconds(f('creation_time'), source, line, 'creation_time');
    const deletionTime = seconds(f('deletion_time'), source, line, 'deletion_time');
    const sched = f('scheduled_time');
    const scheduledTime = sched === '' ? null : seconds(sched, source, line, 'scheduled_time');
    if (scheduledTime !== null && scheduledTime < creationTime) {
      throw new TraceFormatError(source, line, 'scheduled_time', `${scheduledTime} is before creation_time ${creationTime}`);
    }
    const start = scheduledTime ?? creationTime;
    if (deletionTime < start) {
      throw new TraceFormatError(source, line, 'deletion_time', `${deletionTime} is before ${scheduledTime !== null ? 'scheduled_time' : 'creation_time'} ${start}`);
    }
    const spec = f('gpu_spec');
    pods.push({
      name,
      cpuMilli: whole(f('cpu_milli'), source, line, 'cpu_milli'),
      memoryMiB: whole(f('memory_mib'), source, line, 'memory_mib'),
      numGpu: whole(f('num_gpu'), source, line, 'num_gpu'),
      gpuMilli: whole(f('gpu_milli'), source, line, 'gpu_milli', 1000),
      gpuSpec: spec === '' ? [] : spec.split('|'),
      qos: oneOf(f('qos'), QOS, source, line, 'qos'),
      podPhase: oneOf(f('pod_phase'), POD_PHASES, source, line, 'pod_phase'),
      creationTime,
      deletionTime,
      scheduledTime,
    });
  });
  return pods;
}

/** Parse a node list (`openb_node_list_*.csv`). */
export function parseNodes(csv: string, source = 'node list'): TraceNode[] {
  const nodes: TraceNode[] = [];
  readCsv(csv, NODE_COLUMNS, source, (f, line) => {
    const sn = f('sn');
    if (!sn) throw new TraceFormatError(source, line, 'sn', 'empty');
    const model = f('model');
    nodes.push({
      sn,
      cpuMilli: whole(f('cpu_milli'), source, line, 'cpu_milli'),
      memoryMiB: whole(f('memory_mib'), source, line, 'memory_mib'),
      gpus: whole(f('gpu'), source, line, 'gpu'),
      model: model === '' ? null : model,
    });
  });
  return nodes;
}

// ------------------------------------------------------------------ jobs

/**
 * FNV-1a, 32-bit, over the UTF-16 code units of `s`, then murmur3's finaliser (FNV's low bits depend only on the
 * inputs' low bits: without it, sequential names such as openb-pod-NNNN would go round-robin mod 8).
 */
export function stableHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The owner a pod name hashes to: `owner-<stableHash(name) mod owners>`. */
export function hashedOwner(name: string, owners = 8): string {
  return `owner-${stableHash(name) % owners}`;
}

/** Memory of one GPU of a model (GPU_MODEL_MEMORY_MIB), else `fallback`. */
export function gpuMemoryOfModel(model: string | null, fallback = 16_384): number {
  return (model !== null ? GPU_MODEL_MEMORY_MIB[model] : undefined) ?? fallback;
}

/** The GPU models a pod may use: its gpu_spec, when it names some and asks GPUs; undefined: any GPU. */
export const podModels = (p: Pick<TracePod, 'gpuSpec' | 'numGpu'>): string[] | undefined => (p.gpuSpec.length && p.numGpu > 0 ? p.gpuSpec : undefined);

/** Nearest-rank median (the lower middle) of the scheduled pods' durations, ms; null for none. */
function medianDurationMs(pods: readonly TracePod[]): number | null {
  const d = new Float64Array(pods.length);
  let n = 0;
  for (const p of pods) if (p.scheduledTime !== null) d[n++] = (p.deletionTime - p.scheduledTime) * 1000;
  if (!n) return null;
  const sorted = d.subarray(0, n).sort();
  return sorted[Math.ceil(n / 2) - 1]!;
}

export function podsToJobs(pods: readonly TracePod[], opts: JobOptions = {}): ReplayJob[] {
  const gpuMemoryMiB = opts.gpuMemoryMiB ?? 16_384;
  if (!(Number.isInteger(gpuMemoryMiB) && gpuMemoryMiB > 0)) throw new Error(`gpuMemoryMiB must be a whole number > 0, not ${opts.gpuMemoryMiB}`);
  const owners = opts.owners ?? 8;
  if (!(Number.isInteger(owners) && owners >= 1)) throw new Error(`owners must be a whole number ≥ 1, not ${opts.owners}`);
  const ownerBy = opts.ownerBy ?? 'hash';
  if (opts.owners !== undefined && ownerBy !== 'hash') throw new Error(`owners (${opts.owners}) applies to ownerBy 'hash' only, not ${typeof ownerBy === 'function' ? 'a function' : `'${ownerBy}'`}`);
  const unscheduled = opts.unscheduled ?? 'median';
  const startMs = opts.startMs ?? 0;
  const allPreemptible = (opts.preemptible ?? 'be') === 'all';
  const ownerOf = typeof ownerBy === 'function' ? ownerBy : ownerBy === 'qos' ? (p: TracePod) => `qos-${p.qos}` : (p: TracePod) => hashedOwner(p.name, owners);

  const medianMs = unscheduled === 'median' ? medianDurationMs(pods) : null;
  const jobs: ReplayJob[] = [];
  for (const p of pods) {
    const scheduled = p.scheduledTime !== null;
    if (!scheduled && unscheduled === 'skip') continue;
    const fractional = p.numGpu === 1 && p.gpuMilli > 0 && p.gpuMilli < 1000;
    const resources: Resources = fractional
      ? { cpu: p.cpuMilli, memoryMiB: p.memoryMiB, gpus: 0, gpuMemMiB: Math.max(1, Math.round((p.gpuMilli / 1000) * gpuMemoryMiB)) }
      : { cpu: p.cpuMilli, memoryMiB: p.memoryMiB, gpus: p.numGpu };
    const job: ReplayJob = {
      id: p.name,
      owner: ownerOf(p),
      priority: QOS_PRIORITY[p.qos],
      preemptible: allPreemptible || p.qos === 'BE',
      resources,
      submitAtMs: startMs + p.creationTime * 1000,
      // a list with no scheduled pod at all: its unscheduled ones get 0
      durationMs: scheduled ? (p.deletionTime - p.scheduledTime!) * 1000 : (medianMs ?? 0),
      scheduled,
      traceWaitMs: scheduled ? (p.scheduledTime! - p.creationTime) * 1000 : null,
      qos: p.qos,
      podPhase: p.podPhase,
    };
    if (!scheduled) job.cancelAfterMs = (p.deletionTime - p.creationTime) * 1000;
    const models = podModels(p);
    if (models) job.gpuModels = models;
    jobs.push(job);
  }
  // the trace is in creation order; otherwise a stable sort (ties keep the file's order)
  for (let i = 1; i < jobs.length; i++) {
    if (jobs[i]!.submitAtMs < jobs[i - 1]!.submitAtMs) return jobs.sort((a, b) => a.submitAtMs - b.submitAtMs);
  }
  return jobs;
}

// ------------------------------------------------------------------ files

export interface TraceFiles {
  pods: string;
  /** openb_node_list_gpu_node.csv beside it, when present */
  gpuNodes: string | null;
  /** openb_node_list_all_node.csv beside it, when present */
  allNodes: string | null;
}

/**
 * The trace files at `path`: a directory holding `openb_pod_list_default.csv` (any prefix, e.g.
 * `alibaba-gpu-v2023-`), or a pod list file itself (node lists are looked up beside it). null when absent.
 */
export function findTraceFiles(path: string): TraceFiles | null {
  if (!existsSync(path)) return null;
  const isDir = statSync(path).isDirectory();
  const dir = isDir ? path : dirname(path);
  const names = readdirSync(dir);
  const find = (suffix: string) => {
    const n = names.filter((f) => f.endsWith(suffix)).sort()[0];
    return n !== undefined ? join(dir, n) : null;
  };
  const pods = isDir ? find('openb_pod_list_default.csv') : path;
  if (pods === null) return null;
  const prefix = basename(pods).replace(/openb_pod_list_[^/]*\.csv$/, '');
  const beside = (name: string) => (names.includes(prefix + name) ? join(dir, prefix + name) : find(name));
  return { pods, gpuNodes: beside('openb_node_list_gpu_node.csv'), allNodes: beside('openb_node_list_all_node.csv') };
}

export function readPods(file: string): TracePod[] {
  return parsePods(readFileSync(file, 'utf8'), basename(file));
}

export function readNodes(file: string): TraceNode[] {
  return parseNodes(readFileSync(file, 'utf8'), basename(file));
}

/**
 * Which GPUs a container holds, from what the engine was asked for (pure):
 * - `HostConfig.DeviceRequests` — `--gpus`: driver "nvidia", or no driver with capability "gpu"; DeviceIDs are
 *   indices, `GPU-…`/`MIG-…` uuids or `gpu:mig` pairs; Count N means GPUs 0…N-1 (as dockerd's nvidia driver
 *   does), Count -1 all of them; CDI requests (`nvidia.com/gpu=…`) too;
 *   `HostConfig.Devices` — `/dev/nvidiaN` passed through, or a CDI name (Podman `--device nvidia.com/gpu=all`);
 * - `NVIDIA_VISIBLE_DEVICES` in `Config.Env` ("all", "none", "void", "", indices, uuids), honoured by the
 *   nvidia runtime/hook where no device request sets it;
 * - `CUDA_VISIBLE_DEVICES` narrows what the container was given (its indices count within that set), or stands
 *   alone where nothing else names GPUs.
 * "all" becomes one entry per GPU of the inventory when the GPU source's inventory is known, else a single entry
 * with index and uuid null (all GPUs, which ones unknown).
 * The third way, a GPU process running in the container (`via: "process"`), is found by combining the GPU source's
 * processes (their /proc/<pid>/cgroup container id) with this source's list through `matchContainerId`.
 */
import type { ContainerGpu } from '../../../../shared/resources.ts';
import type { DeviceRequest } from './inspect.ts';

export interface GpuRef {
  index: number;
  uuid: string;
}

export interface GpuMappingInput {
  deviceRequests?: readonly DeviceRequest[] | null;
  /** `HostConfig.Devices[].PathOnHost` */
  devices?: readonly string[] | null;
  /** `Config.Env`, "KEY=value" */
  env?: readonly string[] | null;
}

export interface GpuMappingOptions {
  /** the GPUs of this machine, to expand "all" and to fill in index ↔ uuid */
  inventory?: readonly GpuRef[];
  /**
   * whether NVIDIA_VISIBLE_DEVICES in the env gives GPUs (the nvidia runtime or hook acts on it). An engine whose
   * runtime ignores it would otherwise show every container of a CUDA image (which sets it to "all") holding all GPUs.
   * @default true
   */
  honourEnv?: boolean;
}

type Selection = { kind: 'all' } | { kind: 'none' } | { kind: 'list'; ids: string[] };
type Via = ContainerGpu['via'];

/** A visible-devices value → selection; undefined for an unset variable. */
export function parseVisibleDevices(value: string | undefined): Selection | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  const lower = v.toLowerCase();
  if (lower === '' || lower === 'void' || lower === 'none' || lower === 'nodevfiles' || lower === '-1') return { kind: 'none' };
  if (lower === 'all') return { kind: 'all' };
  const ids = v.split(',').map((s) => s.trim()).filter(Boolean);
  // CUDA stops at the first invalid entry (-1 included)
  const stop = ids.findIndex((s) => s.startsWith('-'));
  const kept = stop < 0 ? ids : ids.slice(0, stop);
  return kept.length ? { kind: 'list', ids: kept } : { kind: 'none' };
}

function union(a: Selection | undefined, b: Selection | undefined): Selection | undefined {
  if (!a) return b;
  if (!b) return a;
  if (a.kind === 'all' || b.kind === 'all') return { kind: 'all' };
  if (a.kind === 'none') return b;
  if (b.kind === 'none') return a;
  return { kind: 'list', ids: [...a.ids, ...b.ids] };
}

function isNvidiaRequest(r: DeviceRequest): boolean {
  const driver = (r.Driver ?? '').toLowerCase();
  if (driver === 'nvidia') return true;
  if (driver !== '') return false;
  return (r.Capabilities ?? []).some((set) => (set ?? []).some((c) => c === 'gpu' || c === 'nvidia'));
}

const CDI_GPU = /^nvidia\.com\/gpu=(.+)$/;

function cdiSelection(names: readonly string[]): Selection | undefined {
  let sel: Selection | undefined;
  for (const n of names) {
    const m = CDI_GPU.exec(n);
    if (!m) continue;
    sel = union(sel, m[1] === 'all' ? { kind: 'all' } : { kind: 'list', ids: [m[1]!] });
  }
  return sel;
}

function fromDeviceRequests(reqs: readonly DeviceRequest[]): Selection | undefined {
  let sel: Selection | undefined;
  for (const r of reqs) {
    if ((r.Driver ?? '').toLowerCase() === 'cdi') {
      sel = union(sel, cdiSelection(r.DeviceIDs ?? []));
      continue;
    }
    if (!isNvidiaRequest(r)) continue;
    const ids = r.DeviceIDs ?? [];
    const count = r.Count ?? 0;
    if (ids.length) sel = union(sel, { kind: 'list', ids: [...ids] });
    else if (count > 0) sel = union(sel, { kind: 'list', ids: Array.from({ length: count }, (_, i) => String(i)) });
    else if (count < 0) sel = union(sel, { kind: 'all' });
  }
  return sel;
}

function fromDevices(paths: readonly string[]): Selection | undefined {
  let sel = cdiSelection(paths);
  for (const p of paths) {
    const m = /^\/dev\/nvidia(\d+)$/.exec(p);
    if (m) sel = union(sel, { kind: 'list', ids: [m[1]!] });
  }
  return sel;
}

function envValue(env: readonly string[], key: string): string | undefined {
  let value: string | undefined;
  // the last definition wins, as in the process environment
  for (const e of env) if (e.startsWith(`${key}=`)) value = e.slice(key.length + 1);
  return value;
}

interface Entry {
  index: number | null;
  uuid: string | null;
  via: Via;
}

/** One device id ("0", "GPU-…", "MIG-…", "0:1") → entry, with the inventory's other half where known. */
function resolveId(id: string, via: Via, inventory: readonly GpuRef[] | undefined): Entry | null {
  let index: number | null = null;
  let uuid: string | null = null;
  const mig = /^(\d+):\d+$/.exec(id);
  if (/^\d+$/.test(id)) index = Number(id);
  else if (mig) index = Number(mig[1]);
  else if (/^(GPU|MIG)-/i.test(id)) uuid = id;
  else return null;
  if (inventory) {
    if (index !== null) uuid = inventory.find((g) => g.index === index)?.uuid ?? uuid;
    else index = inventory.find((g) => g.uuid.toLowerCase() === id.toLowerCase())?.index ?? null;
  }
  return { index, uuid, via };
}

function expand(sel: Selection, via: Via, inventory: readonly GpuRef[] | undefined): Entry[] {
  if (sel.kind === 'none') return [];
  if (sel.kind === 'all') {
    if (!inventory) return [{ index: null, uuid: null, via }];
    return [...inventory].sort((a, b) => a.index - b.index).map((g) => ({ index: g.index, uuid: g.uuid, via }));
  }
  return sel.ids.map((id) => resolveId(id, via, inventory)).filter((e): e is Entry => e !== null);
}

/** CUDA_VISIBLE_DEVICES within what the container was given: indices count within that set, uuids (or prefixes) match. */
function narrow(given: Entry[], cuda: Selection): Entry[] {
  if (cuda.kind === 'all') return given;
  if (cuda.kind === 'none') return [];
  // a single "all, unknown which" entry cannot be narrowed by position
  if (given.length === 1 && given[0]!.index === null && given[0]!.uuid === null) return given;
  const out: Entry[] = [];
  for (const id of cuda.ids) {
    const hit = /^\d+$/.test(id)
      ? given[Number(id)]
      : given.find((g) => g.uuid !== null && g.uuid.toLowerCase().startsWith(id.toLowerCase()));
    if (hit) out.push(hit);
    else break; // CUDA ignores the entries after an invalid one
  }
  return out;
}

/** The GPUs a container holds, from its device requests, devices and environment. */
export function containerGpus(input: GpuMappingInput, opts: GpuMappingOptions = {}): ContainerGpu[] {
  const inv = opts.inventory && opts.inventory.length ? opts.inventory : undefined;
  const env = input.env ?? [];
  const requested = union(fromDeviceRequests(input.deviceRequests ?? []), fromDevices(input.devices ?? []));
  let given: Entry[] | undefined;
  if (requested) {
    given = expand(requested, 'device_request', inv);
  } else if (opts.honourEnv !== false) {
    const nv = parseVisibleDevices(envValue(env, 'NVIDIA_VISIBLE_DEVICES'));
    if (nv) given = expand(nv, 'env', inv);
  }
  const cuda = parseVisibleDevices(envValue(env, 'CUDA_VISIBLE_DEVICES'));
  let entries: Entry[];
  if (cuda && given) {
    entries = narrow(given, cuda);
  } else if (cuda && opts.honourEnv !== false) {
    entries = expand(cuda, 'env', inv);
  } else {
    entries = given ?? [];
  }
  const seen = new Set<string>();
  const out: ContainerGpu[] = [];
  for (const e of entries) {
    const key = `${e.index ?? ''}|${e.uuid ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ index: e.index, uuid: e.uuid, via: e.via });
  }
  return out.sort((a, b) => (a.index ?? Infinity) - (b.index ?? Infinity) || (a.uuid ?? '').localeCompare(b.uuid ?? ''));
}

/**
 * The container with this id: a full 64-hex id (e.g. from /proc/<pid>/cgroup) or a unique prefix of one (at least
 * 12 characters, as `docker ps` shows). Null when no container or more than one matches.
 */
export function matchContainerId<C extends { id: string }>(fullIdOrPrefix: string, containers: readonly C[]): C | null {
  const id = fullIdOrPrefix.trim().toLowerCase();
  if (id.length < 12) return null;
  let hit: C | null = null;
  for (const c of containers) {
    const cid = c.id.toLowerCase();
    if (cid === id) return c;
    if (cid.startsWith(id) || (cid.length >= 12 && id.startsWith(cid))) {
      if (hit) return null;
      hit = c;
    }
  }
  return hit;
}

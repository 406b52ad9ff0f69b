/** Pure parsers for the Linux /proc files the host source reads every second. */

export interface CpuTimes {
  busy: number;
  total: number;
}

/** `/proc/stat` → aggregate times and per-core times (jiffies). guest time is already inside user/nice. */
export function parseProcStat(text: string): { total: CpuTimes; cores: CpuTimes[] } {
  let total: CpuTimes | undefined;
  const cores: CpuTimes[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    const [label, ...rest] = line.trim().split(/\s+/);
    const f = rest.map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
    const all = user + nice + system + idle + iowait + irq + softirq + steal;
    const times = { busy: all - idle - iowait, total: all };
    if (label === 'cpu') total = times;
    else cores[Number(label!.slice(3))] = times;
  }
  if (!total) throw new Error('no "cpu" line in /proc/stat');
  return { total, cores };
}

/** Percent busy between two readings (0 when no time passed). */
export function busyPercent(prev: CpuTimes, cur: CpuTimes): number {
  const dt = cur.total - prev.total;
  if (dt <= 0) return 0;
  return clamp(((cur.busy - prev.busy) / dt) * 100, 0, 100);
}

/** `/proc/meminfo` → values in KiB by key. */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([\w()]+):\s+(\d+)/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** `/proc/loadavg` → [1, 5, 15] minute averages. */
export function parseLoadavg(text: string): [number, number, number] {
  const [a = 0, b = 0, c = 0] = text.trim().split(/\s+/).slice(0, 3).map(Number);
  return [a, b, c];
}

/** `/proc/cpuinfo` → `cpu MHz` of each logical core (empty where absent, e.g. on ARM). */
export function parseCpuMHz(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(/^cpu MHz\s*:\s*([\d.]+)/gm)) out.push(Number(m[1]));
  return out;
}

export interface NetCounters {
  rx: number;
  tx: number;
}

/** `/proc/net/dev` → byte counters per interface. */
export function parseNetDev(text: string): Map<string, NetCounters> {
  const out = new Map<string, NetCounters>();
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const iface = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    out.set(iface, { rx: f[0] ?? 0, tx: f[8] ?? 0 });
  }
  return out;
}

export interface MountEntry {
  device: string;
  mount: string;
  fsType: string;
}

/** Filesystems that hold no user data: never shown as disks. */
const PSEUDO_FS = new Set([
  'proc', 'sysfs', 'tmpfs', 'devtmpfs', 'devpts', 'cgroup', 'cgroup2', 'mqueue', 'securityfs', 'debugfs', 'tracefs',
  'configfs', 'fusectl', 'pstore', 'bpf', 'autofs', 'hugetlbfs', 'binfmt_misc', 'nsfs', 'rpc_pipefs', 'squashfs',
  'ramfs', 'efivarfs', 'selinuxfs', 'fuse.lxcfs', 'fuse.gvfsd-fuse', 'fuse.portal', 'overlayfs-tmp', 'nfsd', 'rootfs',
  'devfs', 'sockfs', 'pipefs', 'anon_inodefs', 'shm', 'none',
]);

/** Mounts inside container engines' storage (each container's root, volumes): the engine's, not the host's disks. */
const CONTAINER_STORAGE = /^\/(var\/lib\/(docker|containers|containerd|kubelet)|run\/(containers|docker|containerd|netns))\//;

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** `/proc/mounts` → real filesystems, one per device (the shortest mount path wins over bind mounts). */
export function parseMounts(text: string): MountEntry[] {
  const byDevice = new Map<string, MountEntry>();
  for (const line of text.split('\n')) {
    const [device, mount, fsType] = line.split(' ');
    if (!device || !mount || !fsType || PSEUDO_FS.has(fsType) || CONTAINER_STORAGE.test(mount)) continue;
    const entry = { device: unescapeMount(device), mount: unescapeMount(mount), fsType };
    const seen = byDevice.get(entry.device);
    if (!seen || entry.mount.length < seen.mount.length) byDevice.set(entry.device, entry);
  }
  return [...byDevice.values()].sort((a, b) => a.mount.localeCompare(b.mount));
}

export function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

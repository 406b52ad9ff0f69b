import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { HostSource, isVirtualInterface, type HostFs } from '../../server/monitor/sources/host.ts';
import { parseMounts, parseProcStat, busyPercent, parseNetDev, parseMeminfo, parseCpuMHz } from '../../server/monitor/sources/procfs.ts';

// Captured from a 2-core Linux VM; the second readings add known deltas.
const STAT_1 = `cpu  7099 0 3257 101872 296 0 73 27 0 0
cpu0 3172 0 1485 51519 84 0 13 12 0 0
cpu1 3927 0 1772 50353 211 0 59 14 0 0
intr 244432 0 0 0
ctxt 593364
`;
// cpu0: +50 user, +50 idle (50 % busy); cpu1: +100 idle (0 %); total: 50 busy of 200 (25 %)
const STAT_2 = `cpu  7149 0 3257 102022 296 0 73 27 0 0
cpu0 3222 0 1485 51569 84 0 13 12 0 0
cpu1 3927 0 1772 50453 211 0 59 14 0 0
intr 244932 0 0 0
ctxt 593864
`;
const MEMINFO = `MemTotal:       24684084 kB
MemFree:        24053652 kB
MemAvailable:   18513063 kB
Buffers:            2440 kB
Cached:           199324 kB
SwapTotal:       2097148 kB
SwapFree:        1572861 kB
`;
const NETDEV = (rx: number, tx: number) => `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:   29502     155    0    0    0     0          0         0    29502     155    0    0    0     0       0          0
  eth0: ${rx}    8649    0    0    0     0          0         0   ${tx}    4898    0    0    0     0       0          0
`;
const MOUNTS = `proc /proc proc rw,relatime 0 0
sysfs /sys sysfs rw,relatime 0 0
tmpfs /dev/shm tmpfs rw,relatime,size=24684084k 0 0
/dev/vda / ext4 rw,relatime,discard 0 0
/dev/vda /etc/hosts ext4 rw,relatime 0 0
/dev/sdb1 /mnt/big\\040disk xfs rw 0 0
overlay /var/lib/containers/storage/overlay/abc/merged overlay rw 0 0
/dev/sdc1 /var/lib/docker/volumes/v1/_data ext4 rw 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
`;

function fakeFs(files: Record<string, string>): HostFs & { files: Record<string, string> } {
  return {
    files,
    readFile: async (p) => {
      const key = p.replace(/^\/fake\//, '');
      if (!(key in files)) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return files[key]!;
    },
    statfs: async (p) => {
      if (p === '/') return { bsize: 4096, blocks: 1000, bfree: 250, bavail: 200 };
      if (p === '/mnt/big disk') return { bsize: 1024, blocks: 100, bfree: 90, bavail: 90 };
      throw new Error('EACCES');
    },
  };
}

const thresholds = { cpu: { warning: 20, critical: 90 }, memory: { warning: 20, critical: 95 }, disk: { warning: 70, critical: 79 } };

describe('procfs parsers', () => {
  it('computes busy percent from /proc/stat deltas (idle and iowait are not busy)', () => {
    const a = parseProcStat(STAT_1);
    const b = parseProcStat(STAT_2);
    expect(a.cores).toHaveLength(2);
    expect(busyPercent(a.total, b.total)).toBe(25);
    expect(busyPercent(a.cores[0]!, b.cores[0]!)).toBe(50);
    expect(busyPercent(a.cores[1]!, b.cores[1]!)).toBe(0);
    expect(busyPercent(a.total, a.total)).toBe(0);
    expect(() => parseProcStat('intr 1')).toThrow(/no "cpu" line/);
  });
  it('leaves loopback and container plumbing out of the network', () => {
    for (const i of ['lo', 'veth1a2b', 'podman0', 'docker0', 'br-12ab', 'cni0', 'virbr0']) expect(isVirtualInterface(i), i).toBe(true);
    for (const i of ['eth0', 'ens3', 'enp0s31f6', 'wlan0', 'ib0', 'bond0']) expect(isVirtualInterface(i), i).toBe(false);
  });

  it('parses meminfo, net/dev and cpu MHz', () => {
    expect(parseMeminfo(MEMINFO).get('MemAvailable')).toBe(18513063);
    expect(parseNetDev(NETDEV(10, 20)).get('eth0')).toEqual({ rx: 10, tx: 20 });
    expect(parseCpuMHz('cpu MHz\t\t: 2596.098\ncpu MHz\t\t: 1200\n')).toEqual([2596.098, 1200]);
  });
  it('keeps real filesystems once per device, unescaping mount paths', () => {
    expect(parseMounts(MOUNTS)).toEqual([
      { device: '/dev/vda', mount: '/', fsType: 'ext4' },
      { device: '/dev/sdb1', mount: '/mnt/big disk', fsType: 'xfs' },
    ]);
  });
});

describe('HostSource on /proc', () => {
  it('reports CPU, memory, disks and network rates between two samples, with health', async () => {
    const clock = new ManualClock();
    const fs = fakeFs({
      stat: STAT_1, meminfo: MEMINFO, loadavg: '0.09 0.19 0.11 3/106 6512\n', uptime: '565.68 1018.73\n',
      cpuinfo: 'cpu MHz\t\t: 2000.000\ncpu MHz\t\t: 3000.000\n', 'net/dev': NETDEV(1000, 500), mounts: MOUNTS,
    });
    const src = new HostSource({
      clock, thresholds, inventoryIntervalMs: 60_000, procRoot: '/fake', fs, hostname: () => 'node-a',
      cpuInventory: async () => ({ model: 'Test CPU', speedMinMHz: 1000, speedMaxMHz: 3500 }),
    });
    await src.start();
    await clock.advance(2000);
    fs.files.stat = STAT_2;
    fs.files['net/dev'] = NETDEV(1000 + 4000, 500 + 1000);
    const s = await src.sample();
    expect(s.sampledAt).toBe(clock.now());
    expect(s.hostname).toBe('node-a');
    expect(s.uptimeSec).toBeCloseTo(565.68);
    expect(s.cpu).toEqual({
      model: 'Test CPU', cores: 2, loadPercent: 25, perCore: [50, 0], speedMHz: 2500, speedMinMHz: 1000, speedMaxMHz: 3500,
      loadAvg: [0.09, 0.19, 0.11], health: 'warning',
    });
    expect(s.memory).toMatchObject({ totalMiB: 24106, usedMiB: 6026, availableMiB: 18079, usedPercent: 25, swapTotalMiB: 2048, swapUsedMiB: 512, swapUsedPercent: 25, health: 'warning' });
    expect(s.disks).toEqual([
      { mount: '/', device: '/dev/vda', fsType: 'ext4', sizeBytes: 4096_000, usedBytes: 3072_000, availableBytes: 819_200, usedPercent: 78.9, health: 'warning' },
      { mount: '/mnt/big disk', device: '/dev/sdb1', fsType: 'xfs', sizeBytes: 102_400, usedBytes: 10_240, availableBytes: 92_160, usedPercent: 10, health: 'healthy' },
    ]);
    // lo is left out; rates over the 2 s between the two readings
    expect(s.network).toEqual([{ iface: 'eth0', rxBytesPerSec: 2000, txBytesPerSec: 500, rxBytesTotal: 5000, txBytesTotal: 1500 }]);
  });

  it('gives rate 0 (not a negative rate) when a counter resets', async () => {
    const clock = new ManualClock();
    const fs = fakeFs({ stat: STAT_1, meminfo: MEMINFO, loadavg: '0 0 0', 'net/dev': NETDEV(5000, 5000), mounts: '' });
    const src = new HostSource({ clock, thresholds, inventoryIntervalMs: 60_000, procRoot: '/fake', fs, cpuInventory: async () => ({ model: 'x', speedMinMHz: null, speedMaxMHz: null }) });
    await src.start();
    await src.sample();
    await clock.advance(1000);
    fs.files['net/dev'] = NETDEV(100, 6000);
    const s = await src.sample();
    expect(s.network[0]).toMatchObject({ rxBytesPerSec: 0, txBytesPerSec: 1000 });
    expect(s.cpu.speedMHz).toBeNull();
  });

  it('fails the sample when a /proc file cannot be read', async () => {
    const clock = new ManualClock();
    const fs = fakeFs({ stat: STAT_1, loadavg: '0 0 0', 'net/dev': NETDEV(0, 0), mounts: '' });
    const src = new HostSource({ clock, thresholds, inventoryIntervalMs: 60_000, procRoot: '/fake', fs, cpuInventory: async () => ({ model: 'x', speedMinMHz: null, speedMaxMHz: null }) });
    await src.start();
    await expect(src.sample()).rejects.toThrow(/ENOENT: \/fake\/meminfo/);
  });

  it('reads the real /proc of this machine', async () => {
    const src = new HostSource({ clock: { now: () => Date.now(), setTimeout: () => ({ cancel() {} }) }, thresholds, inventoryIntervalMs: 60_000 });
    await src.start();
    const s = await src.sample();
    expect(s.cpu.cores).toBeGreaterThan(0);
    expect(s.cpu.perCore).toHaveLength(s.cpu.cores);
    expect(s.memory.totalMiB).toBeGreaterThan(0);
    expect(s.disks.length).toBeGreaterThan(0);
    expect(s.disks.find((d) => d.mount === '/')).toBeDefined();
  });
});

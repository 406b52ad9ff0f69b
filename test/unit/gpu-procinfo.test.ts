import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { containerIdFromCgroup, parsePasswd, ProcInfo, uidFromStatus } from '../../server/monitor/sources/gpu/procinfo.ts';

const ID = 'a'.repeat(12) + '0123456789abcdef'.repeat(3) + 'b'.repeat(4);

describe('gpu process owners', () => {
  it.each([
    ['docker, cgroup v1', `12:memory:/docker/${ID}\n11:cpu,cpuacct:/docker/${ID}\n`],
    ['docker, cgroup v2', `0::/system.slice/docker-${ID}.scope\n`],
    ['podman', `0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope/container\n`],
    ['containerd / CRI', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice/cri-containerd-${ID}.scope\n`],
    ['kubepods cgroupfs v1', `4:devices:/kubepods/besteffort/pod0c4bd5bd-9e2a-4b39-a4e2-37d3b1f5d1d8/${ID}\n`],
    ['CRI-O', `0::/kubepods.slice/kubepods-pod1.slice/crio-${ID}.scope\n`],
  ])('finds the container id: %s', (_, text) => {
    expect(containerIdFromCgroup(text)).toBe(ID);
  });

  it('finds none outside containers', () => {
    expect(containerIdFromCgroup('0::/user.slice/user-1000.slice/session-2.scope\n')).toBeNull();
    expect(containerIdFromCgroup(`0::/machine.slice/libpod-conmon-${ID}.scope\n`)).toBeNull();
    expect(containerIdFromCgroup('')).toBeNull();
  });

  it('reads the real uid and names it', () => {
    expect(uidFromStatus('Name:\tpython\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\n')).toBe(1000);
    expect(uidFromStatus('Name:\tx\n')).toBeNull();
    const users = parsePasswd('root:x:0:0:root:/root:/bin/bash\n# comment\nalice:x:1000:1000::/home/alice:/bin/sh\n');
    expect(users.get(0)).toBe('root');
    expect(users.get(1000)).toBe('alice');
  });

  const root = mkdtempSync(join(os.tmpdir(), 'arbiter-proc-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('reads /proc/<pid> under an injected root; unreadable pids give nulls; a uid without a name stays a number', async () => {
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
    for (const [pid, uid, cgroup] of [[100, 1000, `0::/system.slice/docker-${ID}.scope\n`], [200, 4242, '0::/user.slice\n']] as const) {
      mkdirSync(join(root, 'proc', String(pid)), { recursive: true });
      writeFileSync(join(root, 'proc', String(pid), 'status'), `Name:\tx\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`);
      writeFileSync(join(root, 'proc', String(pid), 'cgroup'), cgroup);
    }
    const info = new ProcInfo({ root, clock: new ManualClock() });
    const owners = await info.owners([100, 200, 300]);
    expect(owners.get(100)).toEqual({ user: 'alice', containerId: ID });
    expect(owners.get(200)).toEqual({ user: '4242', containerId: null });
    expect(owners.get(300)).toEqual({ user: null, containerId: null });
  });
});

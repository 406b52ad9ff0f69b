/** The doctor's checks that read the machine, on a machine given to them; its output and exit code. */
import { describe, expect, it } from 'vitest';
import { exitCode, formatChecks, nodeVersion, pidNamespace, proc, type DoctorHost } from '../../server/runtime/doctor.ts';

function host(files: Record<string, string>, nodeVersionText = '22.11.0'): DoctorHost {
  return {
    env: {}, nodeVersion: nodeVersionText, exists: (p) => p in files,
    readFile: (p) => {
      if (!(p in files)) throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
      return files[p]!;
    },
  };
}
const PROC = { '/proc/stat': 'cpu 1 2 3', '/proc/meminfo': 'MemTotal: 1 kB', '/proc/1/cgroup': '0::/' };

describe('doctor', () => {
  it('Node: too old fails, 20 warns (its end of life), the current lines pass', () => {
    expect(nodeVersion(host({}, '18.20.0')).status).toBe('fail');
    expect(nodeVersion(host({}, '20.18.1')).status).toBe('fail');
    expect(nodeVersion(host({}, '20.19.0'))).toMatchObject({ status: 'warn', fix: expect.stringMatching(/22 or 24/) });
    expect(nodeVersion(host({}, '24.1.0')).status).toBe('ok');
  });

  it('pid namespace: outside a container fine; inside, only with the host\'s (pid 1 systemd/init)', () => {
    expect(pidNamespace(host(PROC)).status).toBe('ok');
    expect(pidNamespace(host({ ...PROC, '/.dockerenv': '', '/proc/1/comm': 'systemd\n' })).status).toBe('ok');
    expect(pidNamespace(host({ ...PROC, '/run/.containerenv': '', '/proc/1/comm': 'node\n' }))).toMatchObject({ status: 'warn', message: expect.stringContaining('pid 1 is node'), fix: 'run the container with --pid=host' });
  });

  it('/proc: unreadable fails; other users\' processes hidden (hidepid) warns', () => {
    expect(proc(host(PROC)).status).toBe('ok');
    expect(proc(host({ '/proc/stat': '', '/proc/meminfo': '' }))).toMatchObject({ status: 'warn', fix: expect.stringContaining('hidepid') });
    expect(proc(host({})).status).toBe('fail');
  });

  it('prints a line a check with the fix below, and exits 1 only for a failure', () => {
    const checks = [nodeVersion(host({}, '20.19.0')), proc(host(PROC))];
    expect(formatChecks(checks)).toBe('warn  node  Node 20.19.0: its support ended in April 2026\n            → move to Node 22 or 24 (LTS)\nok    proc  /proc is readable, other users\' processes too\n');
    expect(exitCode(checks)).toBe(0);
    expect(exitCode([...checks, proc(host({}))])).toBe(1);
  });
});

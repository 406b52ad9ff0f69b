/**
 * examples/arbiter.service: the command, user, restart and reload it declares; none of the hardening options that
 * would hide /proc, the GPUs' device nodes or the Docker socket from Arbiter; and systemd's own check of the file
 * (systemd-analyze verify, where it is installed) with ExecStart pointed at an executable that exists here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const unit = readFileSync(new URL('../../examples/arbiter.service', import.meta.url), 'utf8');
const settings = unit.split('\n').filter((l) => /^\w+=/.test(l));
const has = (setting: string) => settings.includes(setting);

describe('examples/arbiter.service', () => {
  it('runs serve with the config in /etc/arbiter as its own user, restarts on failure, reloads with SIGHUP', () => {
    expect(has('ExecStart=/usr/bin/arbiter serve --config /etc/arbiter/config.yaml')).toBe(true);
    expect(has('User=arbiter')).toBe(true);
    expect(has('Restart=on-failure')).toBe(true);
    expect(has('ExecReload=/bin/kill -HUP $MAINPID')).toBe(true);
    expect(has('StateDirectory=arbiter')).toBe(true);
    expect(readFileSync(new URL('../../examples/config.yaml', import.meta.url), 'utf8')).toMatch(/^dataDir: "\/var\/lib\/arbiter"$/m);
  });

  it('hardens without hiding /proc, the GPU devices or the Docker socket, each option explained', () => {
    for (const s of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes', 'ProtectKernelTunables=yes', 'CapabilityBoundingSet=']) expect(has(s), s).toBe(true);
    expect(settings.find((s) => s.startsWith('RestrictAddressFamilies='))).toContain('AF_UNIX');
    for (const s of ['ProtectProc=', 'ProcSubset=', 'PrivateDevices=', 'DevicePolicy=', 'PrivatePIDs=', 'MemoryDenyWriteExecute=', 'InaccessiblePaths=']) {
      expect(settings.filter((l) => l.startsWith(s)), s).toEqual([]);
    }
  });

  it.skipIf(spawnSync('systemd-analyze', ['--version']).status !== 0)('passes systemd-analyze verify', () => {
    const dir = mkdtempSync(join(tmpdir(), 'arbiter-unit-'));
    try {
      const file = join(dir, 'arbiter.service');
      writeFileSync(file, unit.replace('ExecStart=/usr/bin/arbiter', `ExecStart=${process.execPath}`));
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
      expect(r.stderr + r.stdout).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

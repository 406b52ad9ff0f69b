/**
 * `arbiter doctor` through the real CLI, against the nvidia-smi stand-in (a driver that answers, one that fails,
 * an old one that lacks fields), a missing or configured-but-absent nvidia-smi, the Podman engine, a socket that is
 * not there, a port taken by a running Arbiter, a data dir that cannot be written; and GET /api/doctor of a server.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { DoctorCheck } from '../../shared/api.ts';
import { exited, freePort, startCliServer } from '../helpers/cli-server.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/arbiter.js', import.meta.url).pathname;
const STAND_IN = new URL('../stand-ins/nvidia-smi', import.meta.url).pathname;
const FIXTURES = new URL('../fixtures/nvidia-smi/', import.meta.url).pathname;
const H100 = join(FIXTURES, 'nvidia_gpu_exporter-h100-mig-590.48.01-capture.txt');
const K80 = join(FIXTURES, 'pai-tesla-k80-x4-azure-v10-430.26.xml');
const DOCKER = process.env.ARBITER_TEST_DOCKER_HOST;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'arbiter-doctor-'));
  dirs.push(d);
  return d;
};

async function doctor(args: string[], env: Record<string, string> = {}): Promise<{ code: number; checks: Map<string, DoctorCheck>; text: string }> {
  const base = [BIN, 'doctor', '--data-dir', dir(), '--port', '0', ...args];
  const envs = { ...process.env, ARBITER_NO_WEB_BUILD: '1', ...env };
  const [json, text] = await Promise.all([base.concat('--json'), base].map(async (a) => {
    try {
      const r = await run(process.execPath, a, { env: envs });
      return { code: 0, out: r.stdout };
    } catch (e) {
      const err = e as { code: number; stdout: string };
      return { code: err.code, out: err.stdout };
    }
  }));
  expect(text!.code).toBe(json!.code);
  const checks = new Map((JSON.parse(json!.out).checks as DoctorCheck[]).map((c) => [c.id, c]));
  return { code: json!.code, checks, text: text!.out };
}

describe('arbiter doctor', () => {
  it('a driver that answers: its version, the GPUs, every field; exit 0', async () => {
    const d = await doctor(['--nvidia-smi', STAND_IN, '--no-docker'], { NVIDIA_SMI_FIXTURE: H100 });
    expect(d.checks.get('nvidia-smi')).toMatchObject({ status: 'ok', message: expect.stringMatching(/driver 590\.48\.01, 1 GPU \(NVIDIA H100 80GB HBM3\)/) });
    expect(d.checks.get('gpu-fields')?.status).toBe('ok');
    expect(d.checks.get('docker')?.status).toBe('off');
    expect(d.checks.get('data-dir')?.status).toBe('ok');
    expect(d.code).toBe(0);
    expect(d.text).toMatch(/^ok {4}nvidia-smi +.*driver 590\.48\.01/m);
  });

  it('an old driver lacks fields (warn); a driver that fails is a failure with the fix; exit 1', async () => {
    const old = await doctor(['--nvidia-smi', STAND_IN, '--no-docker'], { NVIDIA_SMI_FIXTURE: K80 });
    expect(old.checks.get('gpu-fields')).toMatchObject({ status: 'warn', message: expect.stringContaining('driver 430.26 lacks the fields of migMode') });
    expect(old.code).toBe(0);
    const broken = await doctor(['--nvidia-smi', STAND_IN, '--no-docker'], { NVIDIA_SMI_FIXTURE: H100, NVIDIA_SMI_DRIVER_FAIL: '1' });
    expect(broken.checks.get('nvidia-smi')).toMatchObject({ status: 'fail', message: expect.stringContaining("couldn't communicate with the NVIDIA driver"), fix: expect.stringContaining('driver') });
    expect(broken.code).toBe(1);
    expect(broken.text).toMatch(/→ the driver is not loaded/);
  });

  it('no nvidia-smi on PATH is a warning (no GPU here); a configured one that is not there fails', async () => {
    const none = await doctor(['--no-docker'], { PATH: '/nonexistent' });
    expect(none.checks.get('nvidia-smi')?.status).toBe('warn');
    expect(none.code).toBe(0);
    const wrong = await doctor(['--nvidia-smi', '/opt/none/nvidia-smi', '--no-docker']);
    expect(wrong.checks.get('nvidia-smi')?.status).toBe('fail');
    expect(wrong.code).toBe(1);
  });

  it('a configured docker socket that is not there fails; the docker worker backend asks for the toolkit', async () => {
    const d = await doctor(['--no-gpu', '--docker-host', `unix://${join(dir(), 'docker.sock')}`, '--worker-backend', 'docker']);
    expect(d.checks.get('docker')).toMatchObject({ status: 'fail', message: expect.stringMatching(/^no socket at unix:\/\//) });
    expect(d.checks.get('container-toolkit')?.status).toBe('warn');
    expect(d.checks.get('nvidia-smi')?.status).toBe('off');
    expect(d.code).toBe(1);
  });

  // root may use any socket: the refusal is seen by a user who is not root and not in its group
  it.skipIf(process.getuid?.() !== 0)('a socket this user may not use fails, with the docker group as the fix', async () => {
    const d = dir();
    const sock = join(d, 'docker.sock');
    const server = createServer((c) => c.destroy());
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    chmodSync(sock, 0o600);
    chmodSync(d, 0o755);
    const data = dir();
    chownSync(data, 65534, 65534);
    try {
      const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
        execFile(process.execPath, [BIN, 'doctor', '--json', '--no-gpu', '--port', '0', '--data-dir', data, '--docker-host', `unix://${sock}`],
          { uid: 65534, gid: 65534, env: { ...process.env, ARBITER_NO_WEB_BUILD: '1', HOME: data } }, (err, stdout) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, out: stdout }));
      });
      const docker = (JSON.parse(r.out).checks as DoctorCheck[]).find((c) => c.id === 'docker');
      expect(docker).toMatchObject({ status: 'fail', message: expect.stringContaining('permission denied'), fix: expect.stringContaining('docker group') });
      expect(r.code).toBe(1);
    } finally {
      server.close();
    }
  });

  it.skipIf(!DOCKER)('the engine answers: its version', async () => {
    const d = await doctor(['--no-gpu', '--docker-host', DOCKER!]);
    expect(d.checks.get('docker')).toMatchObject({ status: 'ok', message: expect.stringMatching(/engine \S+ \(API \d+\.\d+\)/) });
  });

  it('a data dir that cannot be written, and a port a running Arbiter holds, fail', async () => {
    const d = await doctor(['--no-gpu', '--no-docker', '--data-dir', '/dev/null/arbiter']);
    expect(d.checks.get('data-dir')).toMatchObject({ status: 'fail', fix: expect.stringContaining('--data-dir') });
    const port = await freePort();
    const cleanups: (() => void)[] = [];
    const child = await startCliServer({ port, dataDir: dir(), token: 'doctor-token-0123456789', onCleanup: (fn) => cleanups.push(fn) });
    try {
      const taken = await doctor(['--no-gpu', '--no-docker', '--port', String(port)]);
      expect(taken.checks.get('port')).toMatchObject({ status: 'fail', message: expect.stringContaining('in use by an Arbiter that is running') });
      // and the running server's own diagnosis, for the dashboard
      const res = await fetch(`http://127.0.0.1:${port}/api/doctor?source=docker`, { headers: { authorization: 'Bearer doctor-token-0123456789' } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { checks: DoctorCheck[] };
      expect(body.checks.map((c) => [c.id, c.status])).toEqual([['docker', 'off'], ['container-toolkit', 'off']]);
      expect((await fetch(`http://127.0.0.1:${port}/api/doctor?source=disk`, { headers: { authorization: 'Bearer doctor-token-0123456789' } })).status).toBe(400);
    } finally {
      child.kill('SIGTERM');
      await exited(child);
      for (const c of cleanups) c();
    }
  });
});

/**
 * `arbiter doctor` and GET /api/doctor: what this machine gives Arbiter and, for what it lacks, the fix — one
 * check a line. Node, the data dir, the port (before a start), nvidia-smi (found, its driver, the fields this driver
 * lacks), the Docker/Podman socket (there, reachable, permitted), the NVIDIA Container Toolkit (for the docker
 * worker backend), the host pid namespace (for GPU process → container), /proc. A check is `fail` when something
 * the config asks for cannot work (a configured path that is not there, a socket without permission, a driver that
 * does not answer), `warn` when a part is simply absent (no GPU on this machine: its source will say
 * `unavailable`) or degraded, `off` when the config turns it off.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import type { DoctorCheck } from '../../shared/api.ts';
import { systemClock } from '../clock.ts';
import type { Config } from '../config.ts';
import { describeError, resolveTarget, type EngineTarget } from '../monitor/sources/docker/connection.ts';
import { parseHelpQueryGpu, planFields } from '../monitor/sources/gpu/fields.ts';
import { CommandNotFoundError, runCommand } from '../monitor/sources/gpu/run.ts';

type Check = DoctorCheck;
const check = (id: string, source: Check['source'], status: Check['status'], message: string, fix?: string): Check => ({ id, source, status, message, ...(fix ? { fix } : {}) });

/** What the checks read of the machine (tests give their own). */
export interface DoctorHost {
  env: NodeJS.ProcessEnv;
  nodeVersion: string;
  readFile(path: string): string;
  exists(path: string): boolean;
}
export const realHost: DoctorHost = { env: process.env, nodeVersion: process.versions.node, readFile: (p) => readFileSync(p, 'utf8'), exists: existsSync };

export interface DoctorOptions {
  /** check that the port is free (before a start; a running server skips it) */
  port?: boolean;
  host?: DoctorHost;
}

export async function diagnose(config: Config, opts: DoctorOptions = {}): Promise<Check[]> {
  const host = opts.host ?? realHost;
  const checks = [nodeVersion(host), dataDir(config.dataDir)];
  if (opts.port) checks.push(await portFree(config.host, config.port));
  checks.push(...(await gpu(config, host)));
  const target = config.monitor.docker || config.workers.backend === 'docker' ? await resolveTarget(config.monitor.dockerHost, host.env).catch(() => null) : null;
  checks.push(await docker(config, target));
  checks.push(toolkit(config, host));
  checks.push(pidNamespace(host), proc(host));
  return checks;
}

export function nodeVersion(host: Pick<DoctorHost, 'nodeVersion'>): Check {
  const [major = 0, minor = 0] = host.nodeVersion.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) return check('node', 'server', 'fail', `Node ${host.nodeVersion} is too old`, 'install Node 22 or 24 (LTS); 20.19 is the least that runs');
  if (major === 20) return check('node', 'server', 'warn', `Node ${host.nodeVersion}: its support ended in April 2026`, 'move to Node 22 or 24 (LTS)');
  return check('node', 'server', 'ok', `Node ${host.nodeVersion}`);
}

function dataDir(dir: string): Check {
  const probe = join(dir, `.doctor-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(probe, 'x');
    rmSync(probe);
    return check('data-dir', 'server', 'ok', `data dir ${dir} is writable`);
  } catch (err) {
    return check('data-dir', 'server', 'fail', `data dir ${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? String(err)})`, `give --data-dir a directory this user may write, or chown ${dir}`);
  }
}

async function portFree(hostAddr: string, port: number): Promise<Check> {
  if (port === 0) return check('port', 'server', 'ok', 'port 0: any free port');
  const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    const srv = createServer();
    srv.once('error', (e) => resolve(e));
    srv.listen(port, hostAddr, () => srv.close(() => resolve(null)));
  });
  if (!err) return check('port', 'server', 'ok', `${hostAddr}:${port} is free`);
  if (err.code !== 'EADDRINUSE') return check('port', 'server', 'fail', `cannot listen on ${hostAddr}:${port} (${err.code})`, 'give --host an address of this machine, or a port above 1023 (--port)');
  const arbiter = await new Promise<boolean>((resolve) => {
    const req = request({ host: hostAddr, port, path: '/api/health', timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(/"status"/.test(body)));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
  return check('port', 'server', 'fail', `${hostAddr}:${port} is in use${arbiter ? ' by an Arbiter that is running' : ' by another program'}`, arbiter ? 'stop it first, or start this one with another --port' : 'choose another --port');
}

/** The executable a command name means: itself when it has a slash, else the first match on PATH. */
function which(name: string, env: NodeJS.ProcessEnv): string | null {
  const executable = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (name.includes('/')) return executable(name) ? name : null;
  for (const dir of (env.PATH ?? '').split(delimiter)) if (dir && executable(join(dir, name))) return join(dir, name);
  return null;
}

async function gpu(config: Config, host: DoctorHost): Promise<Check[]> {
  if (!config.monitor.gpu) return [check('nvidia-smi', 'gpu', 'off', 'the gpu source is off (--no-gpu)')];
  const configured = config.monitor.nvidiaSmi;
  const path = which(configured, host.env);
  if (!path) {
    return configured === 'nvidia-smi'
      ? [check('nvidia-smi', 'gpu', 'warn', 'no nvidia-smi on PATH: no NVIDIA GPU is monitored (the gpu source says unavailable)', 'on a machine with NVIDIA GPUs: install the driver and its utilities (e.g. nvidia-driver, nvidia-utils), or give --nvidia-smi <path>')]
      : [check('nvidia-smi', 'gpu', 'fail', `--nvidia-smi ${configured}: not found or not executable`, 'give the path of nvidia-smi (which nvidia-smi), or leave the option out')];
  }
  const run = (args: string[]) => runCommand(path, args, { env: host.env, timeoutMs: 15_000, clock: systemClock });
  try {
    const q = await run(['--query-gpu=driver_version,name', '--format=csv,noheader']);
    const lines = q.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
    if (q.timedOut) return [check('nvidia-smi', 'gpu', 'fail', `${path} did not answer within 15 s`, 'the driver hangs: check dmesg for Xid errors; a reboot or `nvidia-smi -r` resets the GPU')];
    if (q.code !== 0) {
      return [check('nvidia-smi', 'gpu', 'fail', `${path} failed (exit ${q.code}): ${lines[0] ?? q.stderr.trim()}`, 'the driver is not loaded or does not match its utilities: reinstall the driver or reboot after an upgrade (lsmod | grep nvidia)')];
    }
    const [driver] = lines[0]!.split(',').map((s) => s.trim());
    const names = [...new Set(lines.map((l) => l.split(',').slice(1).join(',').trim()))];
    const found = check('nvidia-smi', 'gpu', 'ok', `${path}: driver ${driver}, ${lines.length} GPU${lines.length === 1 ? '' : 's'} (${names.join(', ')})`);
    const help = await run(['--help-query-gpu']);
    const plan = planFields(parseHelpQueryGpu(help.stdout));
    const fields = plan.missing.length
      ? check('gpu-fields', 'gpu', 'warn', `driver ${driver} lacks the fields of ${plan.missing.join(', ')}: those figures stay empty`, 'a newer driver reports them')
      : check('gpu-fields', 'gpu', 'ok', `driver ${driver} reports every figure Arbiter reads`);
    return [found, fields];
  } catch (err) {
    if (err instanceof CommandNotFoundError) return [check('nvidia-smi', 'gpu', 'fail', `${path} cannot be started`, 'check its permissions')];
    return [check('nvidia-smi', 'gpu', 'fail', `${path}: ${(err as Error).message}`)];
  }
}

/** GET /version of the engine (unix socket or tcp), or the error. */
function engineVersion(t: EngineTarget): Promise<{ Version?: string; ApiVersion?: string; Runtimes?: unknown }> {
  return new Promise((resolve, reject) => {
    const where = t.kind === 'unix' ? { socketPath: t.socketPath } : { host: t.host, port: t.port };
    const req = request({ ...where, path: '/version', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as { Version?: string; ApiVersion?: string });
        } catch {
          reject(new Error(`${t.label} answers, but not as a Docker API (HTTP ${res.statusCode})`));
        }
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer from ${t.label} within 5 s`), { code: 'ETIMEDOUT' })));
    req.end();
  });
}

async function docker(config: Config, target: EngineTarget | null): Promise<Check> {
  if (!config.monitor.docker && config.workers.backend !== 'docker') return check('docker', 'docker', 'off', 'the docker source is off (--no-docker)');
  if (!target) {
    return check('docker', 'docker', 'warn', 'no Docker or Podman socket (/var/run/docker.sock, ~/.docker/run, $XDG_RUNTIME_DIR, /run/podman): no container is monitored',
      'start Docker (systemctl start docker) or Podman\'s API (systemctl start podman.socket), or give --docker-host unix:///path');
  }
  if (target.kind === 'unix' && target.explicit && !existsSync(target.socketPath)) {
    return check('docker', 'docker', 'fail', `no socket at ${target.label}`, 'start the engine, or give --docker-host the socket it listens on (docker context inspect shows it)');
  }
  try {
    const v = await engineVersion(target);
    return check('docker', 'docker', 'ok', `${target.label}: engine ${v.Version ?? '?'} (API ${v.ApiVersion ?? '?'})`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const fix = code === 'EACCES'
      ? 'add this user to the docker group (sudo usermod -aG docker $USER, then log in again), or run Arbiter as a user that may use the socket'
      : code === 'ECONNREFUSED' || code === 'ENOENT' ? 'the engine is not running: start it (systemctl start docker / podman.socket)' : undefined;
    return check('docker', 'docker', 'fail', describeError(err, target), fix);
  }
}

function toolkit(config: Config, host: DoctorHost): Check {
  if (config.workers.backend !== 'docker') return check('container-toolkit', 'docker', 'off', 'workers run as local processes (--worker-backend local): containers need no GPU runtime');
  const tool = ['nvidia-ctk', 'nvidia-container-runtime', 'nvidia-container-cli'].map((t) => which(t, host.env)).find(Boolean);
  if (tool) return check('container-toolkit', 'docker', 'ok', `NVIDIA Container Toolkit: ${tool}`);
  return check('container-toolkit', 'docker', 'warn', 'no NVIDIA Container Toolkit (nvidia-ctk): containers started for workers cannot use GPUs',
    'install nvidia-container-toolkit and run `nvidia-ctk runtime configure` for Docker, or `nvidia-ctk cdi generate` for Podman');
}

/** In a container, process ids of the host (nvidia-smi's) are only visible with the host's pid namespace. */
export function pidNamespace(host: DoctorHost): Check {
  const inContainer = host.exists('/.dockerenv') || host.exists('/run/.containerenv');
  if (!inContainer) return check('pid-namespace', 'gpu', 'ok', 'not in a container: GPU processes map to their users and containers');
  let init = '';
  try {
    init = host.readFile('/proc/1/comm').trim();
  } catch {
    // unreadable: treated as not the host's
  }
  if (['systemd', 'init'].includes(init)) return check('pid-namespace', 'gpu', 'ok', 'in a container with the host\'s pid namespace');
  return check('pid-namespace', 'gpu', 'warn', `in a container with its own pid namespace (pid 1 is ${init || 'unknown'}): GPU processes cannot be mapped to users and containers`, 'run the container with --pid=host');
}

export function proc(host: DoctorHost): Check {
  try {
    host.readFile('/proc/stat');
    host.readFile('/proc/meminfo');
  } catch {
    return check('proc', 'host', 'fail', '/proc is not readable: no CPU or memory figures', 'mount /proc (in a container: do not mask it)');
  }
  try {
    host.readFile('/proc/1/cgroup');
    return check('proc', 'host', 'ok', '/proc is readable, other users\' processes too');
  } catch {
    return check('proc', 'host', 'warn', 'other users\' processes are hidden (/proc mounted with hidepid): GPU processes cannot be mapped to users and containers', 'mount /proc without hidepid, or run Arbiter as root');
  }
}

/** One line a check: status, id, what, and the fix after an arrow. */
export function formatChecks(checks: readonly Check[]): string {
  const width = Math.max(...checks.map((c) => c.id.length));
  return checks.map((c) => `${c.status.padEnd(4)}  ${c.id.padEnd(width)}  ${c.message}${c.fix ? `\n${' '.repeat(width + 8)}→ ${c.fix}` : ''}`).join('\n') + '\n';
}

/** 0 when everything the config asks for is usable (warnings allowed), else 1. */
export const exitCode = (checks: readonly Check[]): number => (checks.some((c) => c.status === 'fail') ? 1 : 0);

/**
 * `npm run test:image` (not in `npm test`): the container image built from Containerfile and run, with Podman.
 * No registry is reachable here, so the base images are made from Debian's packages first (test/image/base.sh:
 * debootstrap, this machine's Node, `podman import`) and given to the build as BUILD_IMAGE / RUNTIME_IMAGE. Then:
 * build, start it as the README's run line does (the engine's socket mounted, its group added, a volume for /data),
 * and check from outside: GET /api/health, a `resource_status` event over SSE, the docker source seeing the engine
 * through the mounted socket, the image's HEALTHCHECK passing, the server running as uid 1000, SIGTERM ending it.
 * Prints the image size, the build time and the start time (run → first healthy answer). Exit code 0 when all hold.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const IMAGE = 'localhost/arbiter:image-test';
const TOKEN = 'image-test-token-0123456789';
const name = `arbiter-image-test-${process.pid}`;

function podmanEnv(): Record<string, string> {
  const out = execFileSync(join(REPO, 'test/podman.sh'), ['start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return Object.fromEntries([...out.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
}

const env = { ...process.env, ...podmanEnv() };
const conf = { ...env, CONTAINERS_CONF: join(env.ARBITER_PODMAN_DIR!, 'containers.conf') };
const podman = (args: string[], timeout = 120_000) => run('podman', args, { env: conf, timeout, maxBuffer: 64 << 20 });

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${TOKEN}` }, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** The first `resource_status` frame of GET /api/events. */
function firstStatusEvent(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/events?types=resource_status', headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        const m = /event: resource_status\ndata: (.*)\n/.exec(buf);
        if (m) {
          req.destroy();
          resolve(m[1]!);
        }
      });
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('no resource_status event within 30 s')));
    req.end();
  });
}

function check(ok: boolean, what: string): void {
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'}  ${what}\n`);
  if (!ok) process.exitCode = 1;
}

async function main(): Promise<void> {
  const [buildBase, runtimeBase] = execFileSync(join(REPO, 'test/image/base.sh'), { env: conf, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split(/\s+/).reverse();
  process.stderr.write(`bases: ${buildBase}, ${runtimeBase}\n`);
  const t0 = Date.now();
  // the docker format: OCI images (podman's default) have no HEALTHCHECK
  await podman(['build', '--format', 'docker', '-f', join(REPO, 'Containerfile'), '-t', IMAGE, '--build-arg', `BUILD_IMAGE=${buildBase}`, '--build-arg', `RUNTIME_IMAGE=${runtimeBase}`, REPO], 1_800_000);
  const buildS = (Date.now() - t0) / 1000;
  const size = Number((await podman(['image', 'inspect', '--format', '{{.Size}}', IMAGE])).stdout.trim());
  const baseSize = Number((await podman(['image', 'inspect', '--format', '{{.Size}}', runtimeBase!])).stdout.trim());

  const sock = env.ARBITER_TEST_DOCKER_HOST!.replace(/^unix:\/\//, '');
  // as Docker's own socket is (root:docker, 0660): the group may use it; Podman makes its socket 0600
  chmodSync(sock, 0o660);
  const port = 20_000 + (process.pid % 20_000);
  const started = Date.now();
  await podman(['run', '-d', '--name', name, '--label', 'arbiter.test=1', '-p', `127.0.0.1:${port}:7070`, '-v', `${sock}:/var/run/docker.sock`,
    '--group-add', String(statSync(sock).gid), '-v', `${name}-data:/data`, '-e', `ARBITER_TOKEN=${TOKEN}`, IMAGE, 'serve', '--no-gpu']);
  try {
    let health: { status: number; body: string } | undefined;
    while (Date.now() - started < 60_000) {
      health = await get(port, '/api/health').catch(() => undefined);
      if (health?.status === 200) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const startS = (Date.now() - started) / 1000;
    check(health?.status === 200, `GET /api/health answers 200 (${startS.toFixed(2)} s after podman run)`);
    const event = JSON.parse(await firstStatusEvent(port)) as { type: string; data: { node: string } };
    check(event.type === 'resource_status', `a resource_status event over SSE (node ${event.data.node})`);
    let docker: { status: string; message?: string } = { status: 'none' };
    for (let i = 0; i < 100 && docker.status !== 'ok'; i++) {
      docker = (JSON.parse((await get(port, '/api/health')).body) as { sources: Record<string, { status: string; message?: string }> }).sources.docker ?? docker;
      if (docker.status !== 'ok') await new Promise((r) => setTimeout(r, 200));
    }
    check(docker.status === 'ok', `the docker source sees the engine through the mounted socket (${docker.status}${docker.message ? `: ${docker.message}` : ''})`);
    const hc = await podman(['healthcheck', 'run', name]).then(() => 'healthy', (e: { stdout?: string; stderr?: string }) => `unhealthy: ${e.stdout ?? ''}${e.stderr ?? ''}`);
    check(hc === 'healthy', `the image's HEALTHCHECK passes (${hc})`);
    const uid = (await podman(['exec', name, 'node', '-e', 'process.stdout.write(String(process.getuid()))'])).stdout;
    check(uid === '1000', `the server runs as uid ${uid}`);
    const stopAt = Date.now();
    await podman(['stop', '-t', '10', name]);
    const stopS = (Date.now() - stopAt) / 1000;
    const exit = (await podman(['inspect', '--format', '{{.State.ExitCode}}', name])).stdout.trim();
    check(exit === '0' && stopS < 5, `SIGTERM ends it in ${stopS.toFixed(2)} s, exit code ${exit}`);
    const figures = { imageMiB: size / 2 ** 20, runtimeBaseMiB: baseSize / 2 ** 20, buildS, startS, stopS };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    if (process.exitCode) process.stderr.write((await podman(['logs', '--tail', '40', name]).catch(() => ({ stdout: '', stderr: '' }))).stderr);
    await podman(['rm', '-f', '-t', '0', name]).catch(() => undefined);
    await podman(['volume', 'rm', '-f', `${name}-data`]).catch(() => undefined);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`test:image failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});

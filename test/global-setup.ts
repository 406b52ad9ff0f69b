/**
 * vitest global setup: gives the docker tests a real Docker-API engine. Unless one is named already
 * (ARBITER_TEST_DOCKER_HOST) or the docker tests are skipped (ARBITER_SKIP_DOCKER_TESTS=1), start the private
 * Podman service of test/podman.sh (which installs Podman with apt when it is missing) and stop it afterwards —
 * unless another test run on this machine still uses it: each run leaves its pid under `<podman dir>/users/` while
 * it lasts, and only the last one out removes the test containers and stops the service.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./podman.sh', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export default function setup(): (() => void) | void {
  if (process.env.ARBITER_TEST_DOCKER_HOST || process.env.ARBITER_SKIP_DOCKER_TESTS === '1') return;
  const out = execFileSync(SCRIPT, ['start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) process.env[m[1]!] = m[2]!.replace(/^'(.*)'$/, '$1');
  const users = join(process.env.ARBITER_PODMAN_DIR ?? '/tmp/arbiter-podman', 'users');
  mkdirSync(users, { recursive: true });
  const mine = join(users, String(process.pid));
  writeFileSync(mine, '');
  return () => {
    rmSync(mine, { force: true });
    // runs that ended without their teardown (killed) do not count
    const others = readdirSync(users).filter((p) => {
      if (alive(Number(p))) return true;
      rmSync(join(users, p), { force: true });
      return false;
    });
    if (others.length) return;
    execFileSync(SCRIPT, ['clean'], { stdio: 'inherit' });
    execFileSync(SCRIPT, ['stop'], { stdio: 'inherit' });
  };
}

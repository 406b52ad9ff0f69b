/**
 * vitest global setup: gives the docker tests a real Docker-API engine. Unless one is named already
 * (ARBITER_TEST_DOCKER_HOST) or the docker tests are skipped (ARBITER_SKIP_DOCKER_TESTS=1), start the private
 * Podman service of test/podman.sh (which installs Podman with apt when it is missing) and stop it afterwards.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./podman.sh', import.meta.url));

export default function setup(): (() => void) | void {
  if (process.env.ARBITER_TEST_DOCKER_HOST || process.env.ARBITER_SKIP_DOCKER_TESTS === '1') return;
  const out = execFileSync(SCRIPT, ['start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) process.env[m[1]!] = m[2]!.replace(/^'(.*)'$/, '$1');
  return () => {
    execFileSync(SCRIPT, ['clean'], { stdio: 'inherit' });
    execFileSync(SCRIPT, ['stop'], { stdio: 'inherit' });
  };
}

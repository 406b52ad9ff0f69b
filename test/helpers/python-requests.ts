/**
 * A python3 that can `import requests`, for the tests that run the resource-scheduler specification's Python example:
 * Debian's /usr/bin/python3 with python3-requests (installed by .ci/run) when it has it, else the `python3` on PATH.
 * None: `pythonRequestsUnavailable` says why (a failure under ARBITER_REQUIRE_ENGINES=1, set by .ci/run).
 */
import { spawnSync } from 'node:child_process';

export function pythonWithRequests(): string | null {
  for (const python of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(python, ['-c', 'import requests'], { encoding: 'utf8' }).status === 0) return python;
  }
  return null;
}

export function pythonRequestsUnavailable(): string | null {
  if (pythonWithRequests()) return null;
  const why = 'no python3 with requests (Debian: apt-get install python3-requests); the Python example test is skipped';
  if (process.env.ARBITER_REQUIRE_ENGINES === '1') throw new Error(why);
  return why;
}

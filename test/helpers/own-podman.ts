/**
 * A Podman API service of a test's own, for the tests that stop and start the engine: the same containers and
 * images (Podman's storage is shared), but its own socket, so that the docker tests running meanwhile keep the
 * service of test/podman.sh that the global setup started.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface OwnPodman {
  /** unix:///…/podman.sock */
  host: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** the podman CLI with this service's containers.conf */
  podman(...args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** stop it and remove its directory */
  close(): Promise<void>;
}

/** Start one with test/podman.sh (`script`: ARBITER_PODMAN_SCRIPT). */
export async function ownPodman(script: string): Promise<OwnPodman> {
  const dir = mkdtempSync(join(tmpdir(), 'arbiter-podman-own-'));
  const env = { ...process.env, ARBITER_PODMAN_DIR: dir };
  let host: string | undefined;
  try {
    const started = await run(script, ['start'], { env });
    host = /^export ARBITER_TEST_DOCKER_HOST=(.*)$/m.exec(started.stdout)?.[1];
    if (!host) throw new Error(`test/podman.sh start printed no ARBITER_TEST_DOCKER_HOST: ${started.stdout}`);
  } catch (err) {
    // nothing of it may outlive the failure
    await run(script, ['stop'], { env }).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    host,
    start: async () => void (await run(script, ['start'], { env })),
    stop: async () => void (await run(script, ['stop'], { env })),
    podman: (...args) => run('podman', args, { env: { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf') } }),
    close: async () => {
      await run(script, ['stop'], { env }).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

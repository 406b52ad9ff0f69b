/**
 * The whole app with the real docker source against the Podman (or Docker) engine of test/podman.sh: a container
 * started on the engine reaches SSE clients through the engine's event, long before the next stats round.
 */
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope } from '../../shared/events.ts';
import { parseDockerHost } from '../../server/monitor/sources/docker/connection.ts';
import { openSse } from '../helpers/sse.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const HOST = process.env.ARBITER_TEST_DOCKER_HOST;
const SKIP = process.env.ARBITER_SKIP_DOCKER_TESTS === '1';
const IMAGE = process.env.ARBITER_TEST_DOCKER_IMAGE ?? 'localhost/busybox:latest';
const LABEL = { 'arbiter.test': 'docker-app' };

describe.skipIf(SKIP)('docker source in the app', () => {
  let s: TestServer;
  let docker: Docker;
  beforeAll(async () => {
    if (!HOST) throw new Error('no engine for the docker tests: run eval "$(test/podman.sh start)" first, or set ARBITER_SKIP_DOCKER_TESTS=1');
    docker = new Docker(parseDockerHost(HOST) as Docker.DockerOptions);
    s = await startTestServer({
      hostIntervalMs: 3_600_000,
      configure: (c) => {
        c.monitor.docker = true;
        c.monitor.dockerHost = HOST;
        c.monitor.dockerIntervalMs = 3_600_000; // only the event path can deliver within the test
      },
    });
  });
  afterAll(async () => {
    await s?.close();
    const mine = await docker?.listContainers({ all: true, filters: { label: ['arbiter.test=docker-app'] } });
    for (const c of mine ?? []) await docker.getContainer(c.Id).remove({ force: true });
  });

  it('pushes a container started on the engine through its event', async () => {
    const name = `arbiter-app-${process.pid}`;
    const sse = await openSse(`${s.url}/api/events?types=resource_status&access_token=${s.token}`);
    const ctr = await docker.createContainer({ Image: IMAGE, name, Cmd: ['sleep', '60'], Labels: LABEL });
    await ctr.start();
    const running = (f: { data?: string }[]) =>
      f.some((x) => x.data && (JSON.parse(x.data) as Envelope<'resource_status'>).data.containers.some((c) => c.name === name && c.state === 'running'));
    await sse.until(running, 10_000);
    expect(s.app.board.snapshot().sources.docker!.status).toBe('ok');
    await ctr.remove({ force: true });
    const gone = (f: { data?: string }[]) => {
      const last = f.filter((x) => x.data).at(-1);
      return !!last && !(JSON.parse(last.data!) as Envelope<'resource_status'>).data.containers.some((c) => c.name === name);
    };
    await sse.until(gone, 10_000);
    sse.close();
  });
});

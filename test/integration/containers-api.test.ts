import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceUnavailableError } from '../../server/monitor/loop.ts';
import { ContainerSchema } from '../../shared/resources.ts';
import type { Envelope } from '../../shared/events.ts';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { FakeDockerSource, fakeContainer } from '../helpers/fake-docker.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let s: TestServer;
const docker = new FakeDockerSource([fakeContainer('trainer'), fakeContainer('db', { memoryPercent: 99, health: 'critical' })]);
beforeAll(async () => {
  s = await startTestServer({ hostSource: new FakeHostSource(), dockerSource: docker, hostIntervalMs: 3_600_000, configure: (c) => void (c.monitor.dockerIntervalMs = 3_600_000) });
  await s.app.loop.runOnce('docker');
});
afterAll(() => s.close());
const get = (p: string) => fetch(`${s.url}${p}`, { headers: { Authorization: `Bearer ${s.token}` } });

describe('containers in the snapshot and the API', () => {
  it('GET /api/status/containers and one by id, id prefix or name', async () => {
    const all = (await (await get('/api/status/containers')).json()) as { source: { status: string }; containers: unknown[] };
    expect(all.source.status).toBe('ok');
    expect(all.containers).toHaveLength(2);
    const id = s.app.board.snapshot().containers[0]!.id;
    expect(ContainerSchema.parse(await (await get(`/api/status/containers/${id}`)).json()).name).toBe('trainer');
    expect(ContainerSchema.parse(await (await get(`/api/status/containers/${id.slice(0, 12)}`)).json()).name).toBe('trainer');
    expect(ContainerSchema.parse(await (await get('/api/status/containers/db')).json()).memoryPercent).toBe(99);
    expect((await get('/api/status/containers/nope')).status).toBe(404);
    expect(s.app.board.snapshot().health).toBe('critical');
  });

  it('pushes an engine-driven change at once, not at the next sample', () => {
    const seen: Envelope<'resource_status'>[] = [];
    const off = s.app.hub.subscribe((ev) => seen.push(ev.env as Envelope<'resource_status'>));
    s.app.board.setContainers([fakeContainer('trainer', { state: 'exited', cpuPercent: null })], { publish: true });
    off();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.data.containers.map((c) => [c.name, c.state])).toEqual([['trainer', 'exited']]);
  });

  it('keeps history per container and Prometheus gauges with container labels', async () => {
    s.app.board.setContainers(docker.containers);
    const names = ((await (await get('/api/history/series')).json()) as { series: string[] }).series;
    expect(names).toEqual(expect.arrayContaining(['container.trainer.cpu', 'container.trainer.mem', 'container.db.mem']));
    await s.app.loop.runOnce('docker');
    // a routine docker sample is published with the next snapshot, within a second
    const line = /^arbiter_container_cpu_percent\{container="trainer",id="trainer00000",image="localhost\/busybox:latest"\} 12\.5$/m;
    let text = '';
    for (let i = 0; i < 60 && !line.test(text); i++) {
      text = await (await get('/metrics')).text();
      if (!line.test(text)) await new Promise((r) => setTimeout(r, 50));
    }
    expect(text).toMatch(line);
  });

  it('shows no containers when the engine is not there', async () => {
    docker.fail = new SourceUnavailableError('no Docker socket at /var/run/docker.sock');
    await s.app.loop.runOnce('docker');
    expect(s.app.board.snapshot().containers).toEqual([]);
    expect(s.app.board.snapshot().sources.docker!.status).toBe('unavailable');
  });
});

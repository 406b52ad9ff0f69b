import { describe, expect, it } from 'vitest';
import { humanDuration, infoFromInspect, mapHealthcheck, mapPorts, mapState, statusText, type InspectBody } from '../../server/monitor/sources/docker/inspect.ts';

// trimmed from a recorded Podman 4.3.1 inspect (compat API)
const PODMAN: InspectBody = {
  Id: '71c9d526e5292f161930e9976a0f08ce4000b1c11f442fd23040dd4c407a9044',
  Name: '/rec2',
  Created: '2026-11-23T15:41:12.460101976Z',
  RestartCount: 0,
  State: {
    Status: 'running', Running: true, Paused: false, Restarting: false, Dead: false, ExitCode: 0,
    StartedAt: '2026-11-23T15:41:12.888436469Z', FinishedAt: '0001-01-01T00:00:00Z',
    Health: { Status: '' },
  },
  Image: 'sha256:80b38fe92c6a12cebc1793de6cb58b9c6f86f9858985345bcfd5fd094585830a',
  Config: {
    Image: 'localhost/busybox:latest',
    Labels: { app: 'web', 'arbiter.test': 'rec' },
    Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm', 'container=podman', 'HOSTNAME=71c9d526e529'],
  },
  HostConfig: { DeviceRequests: null, Devices: [] },
  NetworkSettings: { Ports: { '80/tcp': [{ HostIp: '', HostPort: '18080' }] } },
};

// a Docker container in a restart loop, with a healthcheck and a GPU request
const DOCKER: InspectBody = {
  Id: '9a8b7c6d5e4f30211f2e3d4c5b6a79880796a5b4c3d2e1f00f1e2d3c4b5a6978',
  Name: '/trainer',
  Created: '2026-11-23T09:00:00.000000000Z',
  RestartCount: 7,
  State: {
    Status: 'restarting', Running: true, Paused: false, Restarting: true, Dead: false, ExitCode: 137,
    StartedAt: '2026-11-23T09:59:00Z', FinishedAt: '2026-11-23T09:59:50Z', Health: { Status: 'unhealthy' },
  },
  Config: { Image: 'nvcr.io/nvidia/pytorch:24.01-py3', Labels: null, Env: ['NVIDIA_VISIBLE_DEVICES=all'] },
  HostConfig: { DeviceRequests: [{ Driver: '', Count: -1, DeviceIDs: null, Capabilities: [['gpu']] }], Runtime: 'runc' },
  NetworkSettings: { Ports: { '8888/tcp': null, '6006/tcp': [{ HostIp: '0.0.0.0', HostPort: '6006' }, { HostIp: '::', HostPort: '6006' }] } },
};

describe('infoFromInspect', () => {
  it('maps a Podman container (no healthcheck: empty Health.Status → null)', () => {
    expect(infoFromInspect(PODMAN)).toEqual({
      id: PODMAN.Id,
      name: 'rec2',
      image: 'localhost/busybox:latest',
      state: 'running',
      createdAt: Date.parse('2026-11-23T15:41:12.460Z'),
      startedAt: Date.parse('2026-11-23T15:41:12.888Z'),
      finishedAt: null,
      exitCode: 0,
      labels: { app: 'web', 'arbiter.test': 'rec' },
      ports: [{ privatePort: 80, publicPort: 18080, type: 'tcp', ip: null }],
      restartCount: 0,
      healthcheck: null,
      env: PODMAN.Config!.Env,
      deviceRequests: [],
      devices: [],
      runtime: null,
    });
  });

  it('maps a Docker container with health, restarts, ports and device requests', () => {
    const i = infoFromInspect(DOCKER);
    expect(i).toMatchObject({ name: 'trainer', state: 'restarting', restartCount: 7, healthcheck: 'unhealthy', labels: {}, runtime: 'runc' });
    expect(i.ports).toEqual([
      { privatePort: 6006, publicPort: 6006, type: 'tcp', ip: '0.0.0.0' },
      { privatePort: 6006, publicPort: 6006, type: 'tcp', ip: '::' },
      { privatePort: 8888, publicPort: null, type: 'tcp', ip: null },
    ]);
    expect(i.deviceRequests).toHaveLength(1);
  });

  it('survives an inspect with almost nothing in it', () => {
    expect(infoFromInspect({ Id: 'x' })).toMatchObject({ id: 'x', name: '', image: '', state: 'unknown', createdAt: null, labels: {}, ports: [], healthcheck: null });
  });
});

describe('mapping helpers', () => {
  it('maps states, Podman ones included', () => {
    expect(mapState('running')).toBe('running');
    expect(mapState('exited')).toBe('exited');
    expect(mapState('configured')).toBe('created');
    expect(mapState('stopping')).toBe('running');
    expect(mapState('weird')).toBe('unknown');
  });

  it('maps healthcheck statuses', () => {
    expect(mapHealthcheck('healthy')).toBe('healthy');
    expect(mapHealthcheck('starting')).toBe('starting');
    expect(mapHealthcheck('none')).toBeNull();
    expect(mapHealthcheck('')).toBeNull();
    expect(mapHealthcheck(undefined)).toBeNull();
  });

  it('maps udp and unpublished ports', () => {
    expect(mapPorts({ '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }], '9000/tcp': [] })).toEqual([
      { privatePort: 53, publicPort: 5353, type: 'udp', ip: '127.0.0.1' },
      { privatePort: 9000, publicPort: null, type: 'tcp', ip: null },
    ]);
    expect(mapPorts(null)).toEqual([]);
  });
});

describe('statusText, as the engine writes it', () => {
  const t0 = Date.parse('2026-11-23T10:00:00Z');
  const base = infoFromInspect(PODMAN);

  it('running, with and without a healthcheck', () => {
    const c = { ...base, startedAt: t0 - 2 * 3_600_000 };
    expect(statusText(c, t0)).toBe('Up 2 hours');
    expect(statusText({ ...c, healthcheck: 'healthy' }, t0)).toBe('Up 2 hours (healthy)');
    expect(statusText({ ...c, healthcheck: 'starting', startedAt: t0 - 5_000 }, t0)).toBe('Up 5 seconds (health: starting)');
  });

  it('paused, restarting, exited, created, dead', () => {
    expect(statusText({ ...base, state: 'paused', startedAt: t0 - 90_000 }, t0)).toBe('Up About a minute (Paused)');
    expect(statusText({ ...base, state: 'restarting', exitCode: 137, finishedAt: t0 - 10_000 }, t0)).toBe('Restarting (137) 10 seconds ago');
    expect(statusText({ ...base, state: 'exited', exitCode: 0, startedAt: t0 - 100_000, finishedAt: t0 - 3 * 86_400_000 }, t0)).toBe('Exited (0) 3 days ago');
    expect(statusText({ ...base, state: 'created', startedAt: null }, t0)).toBe('Created');
    expect(statusText({ ...base, state: 'exited', startedAt: null }, t0)).toBe('Created');
    expect(statusText({ ...base, state: 'dead' }, t0)).toBe('Dead');
  });

  it("humanDuration follows Go's units.HumanDuration", () => {
    expect(humanDuration(500)).toBe('Less than a second');
    expect(humanDuration(1_000)).toBe('1 second');
    expect(humanDuration(59_000)).toBe('59 seconds');
    expect(humanDuration(60_000)).toBe('About a minute');
    expect(humanDuration(45 * 60_000)).toBe('45 minutes');
    expect(humanDuration(80 * 60_000)).toBe('About an hour');
    expect(humanDuration(47 * 3_600_000)).toBe('47 hours');
    expect(humanDuration(10 * 86_400_000)).toBe('10 days');
    expect(humanDuration(20 * 86_400_000)).toBe('2 weeks');
    expect(humanDuration(90 * 86_400_000)).toBe('3 months');
    expect(humanDuration(800 * 86_400_000)).toBe('2 years');
  });
});

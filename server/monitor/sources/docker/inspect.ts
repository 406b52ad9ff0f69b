/**
 * `GET /containers/{id}/json` (inspect) → what we show of a container apart from its stats. Everything comes from
 * inspect (the list endpoint lacks restart count, health, env and device requests), and the status text is
 * rebuilt from the state as the engine builds it ("Up 2 hours (healthy)", "Exited (137) 5 minutes ago"), so that
 * it stays current between engine events without re-listing.
 */
import type { Container } from '../../../../shared/resources.ts';

/** The parts of an inspect body we read; Docker and Podman both send these, any may be missing. */
export interface InspectBody {
  Id: string;
  Name?: string;
  Created?: string;
  RestartCount?: number;
  State?: {
    Status?: string;
    Running?: boolean;
    Paused?: boolean;
    Restarting?: boolean;
    Dead?: boolean;
    ExitCode?: number;
    StartedAt?: string;
    FinishedAt?: string;
    Health?: { Status?: string } | null;
  };
  Config?: { Image?: string; Labels?: Record<string, string> | null; Env?: string[] | null };
  Image?: string;
  HostConfig?: {
    DeviceRequests?: DeviceRequest[] | null;
    Devices?: { PathOnHost?: string }[] | null;
    Runtime?: string;
  };
  NetworkSettings?: { Ports?: PortMap | null };
}

export type PortMap = Record<string, { HostIp?: string; HostPort?: string }[] | null>;

export interface DeviceRequest {
  Driver?: string;
  Count?: number;
  DeviceIDs?: string[] | null;
  Capabilities?: string[][] | null;
}

export type ContainerState = Container['state'];
export type Port = Container['ports'][number];

/** What inspect tells, with the engine times kept for the status text. */
export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  state: ContainerState;
  createdAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  exitCode: number;
  labels: Record<string, string>;
  ports: Port[];
  restartCount: number;
  healthcheck: Container['healthcheck'];
  env: string[];
  deviceRequests: DeviceRequest[];
  devices: string[];
  runtime: string | null;
}

/** Running or paused: a container that has stats. */
export function isLive(info: Pick<ContainerInfo, 'state'>): boolean {
  return info.state === 'running' || info.state === 'paused';
}

const STATES = new Set<ContainerState>(['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead', 'stopped']);

/** Engine state → ours. Podman's own states (configured, initialized, stopping) map to the nearest Docker one. */
export function mapState(status: string | undefined): ContainerState {
  const s = (status ?? '').toLowerCase();
  if (STATES.has(s as ContainerState)) return s as ContainerState;
  if (s === 'configured' || s === 'initialized') return 'created';
  if (s === 'stopping') return 'running';
  return 'unknown';
}

/** An engine time in ms; null for a missing field or Go's zero time ("0001-01-01T00:00:00Z"). */
export function engineTime(t: string | undefined): number | null {
  if (!t) return null;
  const ms = Date.parse(t);
  return Number.isFinite(ms) && ms > 0 ? ms : null;
}

export function mapHealthcheck(status: string | undefined): Container['healthcheck'] {
  // Podman always has State.Health, with "" (or "none") when the container has no HEALTHCHECK
  const s = (status ?? '').toLowerCase();
  return s === 'starting' || s === 'healthy' || s === 'unhealthy' ? s : null;
}

/** `NetworkSettings.Ports` ({"80/tcp": [{HostIp, HostPort}]} or null bindings for unpublished ports) → list. */
export function mapPorts(ports: PortMap | null | undefined): Port[] {
  const out: Port[] = [];
  for (const [key, bindings] of Object.entries(ports ?? {})) {
    const [portText, type = 'tcp'] = key.split('/');
    const privatePort = Number(portText);
    if (!Number.isInteger(privatePort)) continue;
    if (!bindings || bindings.length === 0) {
      out.push({ privatePort, publicPort: null, type, ip: null });
      continue;
    }
    for (const b of bindings) {
      const publicPort = Number(b.HostPort);
      out.push({ privatePort, publicPort: Number.isInteger(publicPort) && publicPort > 0 ? publicPort : null, type, ip: b.HostIp || null });
    }
  }
  return out.sort((a, b) => a.privatePort - b.privatePort || (a.publicPort ?? 0) - (b.publicPort ?? 0) || a.type.localeCompare(b.type));
}

export function infoFromInspect(i: InspectBody): ContainerInfo {
  const st = i.State ?? {};
  return {
    id: i.Id,
    name: (i.Name ?? '').replace(/^\//, ''),
    image: i.Config?.Image || i.Image || '',
    state: mapState(st.Status),
    createdAt: engineTime(i.Created),
    startedAt: engineTime(st.StartedAt),
    finishedAt: engineTime(st.FinishedAt),
    exitCode: st.ExitCode ?? 0,
    labels: { ...(i.Config?.Labels ?? {}) },
    ports: mapPorts(i.NetworkSettings?.Ports),
    restartCount: i.RestartCount ?? 0,
    healthcheck: mapHealthcheck(st.Health?.Status),
    env: i.Config?.Env ?? [],
    deviceRequests: i.HostConfig?.DeviceRequests ?? [],
    devices: (i.HostConfig?.Devices ?? []).map((d) => d.PathOnHost ?? '').filter(Boolean),
    runtime: i.HostConfig?.Runtime || null,
  };
}

/** Go's units.HumanDuration, which the engine uses in its status text. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** The status text `docker ps` shows, as the engine builds it from the state at time `now`. */
export function statusText(c: ContainerInfo, now: number): string {
  const since = (t: number | null) => humanDuration(Math.max(0, now - (t ?? now)));
  switch (c.state) {
    case 'running': {
      const health = c.healthcheck === null ? '' : c.healthcheck === 'starting' ? ' (health: starting)' : ` (${c.healthcheck})`;
      return `Up ${since(c.startedAt)}${health}`;
    }
    case 'paused':
      return `Up ${since(c.startedAt)} (Paused)`;
    case 'restarting':
      return `Restarting (${c.exitCode}) ${since(c.finishedAt)} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'created':
      return 'Created';
    case 'unknown':
      return 'Unknown';
    default:
      // exited, stopped
      if (c.startedAt === null) return 'Created';
      return c.finishedAt === null ? 'Exited' : `Exited (${c.exitCode}) ${since(c.finishedAt)} ago`;
  }
}

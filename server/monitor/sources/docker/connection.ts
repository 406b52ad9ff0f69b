/**
 * Where the engine is: the `dockerHost` option (`--docker-host`), else `DOCKER_HOST`, else the first socket that
 * exists of /var/run/docker.sock, Docker Desktop's ~/.docker/run/docker.sock, rootless Docker's and Podman's
 * sockets in $XDG_RUNTIME_DIR, and /run/podman/podman.sock. `unix:///path` (or a bare path) and `tcp://host:port`
 * (`http://`, `https://` too) are understood.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

export type EngineTarget =
  | { kind: 'unix'; socketPath: string; label: string; explicit: boolean }
  | { kind: 'tcp'; host: string; port: number; protocol: 'http' | 'https'; label: string; explicit: boolean };

export const DEFAULT_SOCKET = '/var/run/docker.sock';

/** Parse a docker host address. Throws, naming the value, for a scheme we do not speak. */
export function parseDockerHost(value: string, explicit = true): EngineTarget {
  const v = value.trim();
  if (v.startsWith('/')) return { kind: 'unix', socketPath: v, label: `unix://${v}`, explicit };
  const m = /^([a-z]+):\/\/(.*)$/i.exec(v);
  if (!m) throw new Error(`docker host "${value}" is neither unix:///path nor tcp://host:port`);
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  if (scheme === 'unix') {
    if (!rest.startsWith('/')) throw new Error(`docker host "${value}": a unix socket needs an absolute path (unix:///path)`);
    return { kind: 'unix', socketPath: rest, label: `unix://${rest}`, explicit };
  }
  if (scheme === 'tcp' || scheme === 'http' || scheme === 'https') {
    const u = new URL(`http://${rest}`);
    const port = Number(u.port || (scheme === 'https' ? 2376 : 2375));
    // 2376 is the TLS port by convention (as the docker CLI assumes)
    const protocol = scheme === 'https' || (scheme === 'tcp' && port === 2376) ? 'https' : 'http';
    return { kind: 'tcp', host: u.hostname, port, protocol, label: `${scheme}://${u.hostname}:${port}`, explicit };
  }
  throw new Error(`docker host "${value}": scheme ${scheme}:// is not supported (use unix:// or tcp://)`);
}

function defaultSockets(env: NodeJS.ProcessEnv): string[] {
  const out = [DEFAULT_SOCKET, join(os.homedir(), '.docker', 'run', 'docker.sock')];
  if (env.XDG_RUNTIME_DIR) out.push(join(env.XDG_RUNTIME_DIR, 'docker.sock'), join(env.XDG_RUNTIME_DIR, 'podman', 'podman.sock'));
  out.push('/run/podman/podman.sock');
  return out;
}

/**
 * The engine to talk to, or null when nothing is configured and no default socket exists (no Docker on this
 * machine). An explicitly configured socket is returned even if it does not exist yet.
 */
export async function resolveTarget(dockerHost: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<EngineTarget | null> {
  if (dockerHost) return parseDockerHost(dockerHost, true);
  if (env.DOCKER_HOST) return parseDockerHost(env.DOCKER_HOST, true);
  for (const p of defaultSockets(env)) {
    try {
      const st = await fsp.stat(p);
      if (st.isSocket()) return { kind: 'unix', socketPath: p, label: `unix://${p}`, explicit: false };
    } catch {
      // not there
    }
  }
  return null;
}

/** Whether an error means the engine cannot be reached at all (rather than one request failing). */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EACCES', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'ENOTSOCK'].includes(code);
}

/** Whether the socket simply is not there (nothing listens): the engine is absent, not failing. */
export function isAbsent(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ECONNREFUSED';
}

/** A one-line reason, with a hint for the common cases. */
export function describeError(err: unknown, t: EngineTarget): string {
  const e = err as { code?: string; message?: string; statusCode?: number } | null;
  const code = e?.code;
  if (code === 'ENOENT') return `no Docker engine socket at ${t.label}`;
  if (code === 'ECONNREFUSED') return `nothing listens on ${t.label} (connection refused)`;
  if (code === 'EACCES') return `permission denied on ${t.label} (is this user in the docker group?)`;
  if (code === 'ECONNRESET' || code === 'EPIPE') return `connection to ${t.label} reset`;
  const msg = e?.message ?? String(err);
  return code ? `${msg} (${code})` : msg;
}

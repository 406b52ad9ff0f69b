/**
 * Who runs a GPU process: the owner (real uid of /proc/<pid>/status → name from /etc/passwd) and the container
 * it runs in (from /proc/<pid>/cgroup). Both are null where /proc/<pid> is not readable (another pid namespace,
 * hidepid, Windows/WSL pids). The root directory is injectable so tests use a recorded tree.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../../clock.ts';

/** Real uid from the `Uid:` line of /proc/<pid>/status. */
export function uidFromStatus(status: string): number | null {
  const m = /^Uid:\s+(\d+)/m.exec(status);
  return m ? Number(m[1]) : null;
}

/** uid → user name from an /etc/passwd text. */
export function parsePasswd(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const [name, , uid] = line.split(':');
    if (name && uid && /^\d+$/.test(uid) && !out.has(Number(uid))) out.set(Number(uid), name);
  }
  return out;
}

// docker (cgroup v1 `/docker/<id>`, v2 `docker-<id>.scope`), podman `libpod-<id>.scope` (v2 may nest `/container`),
// containerd/CRI `cri-containerd-<id>.scope`, CRI-O `crio-<id>.scope`, kubepods cgroupfs `/kubepods/<qos>/pod<uid>/<id>`
const SEGMENT = /^(?:docker-|libpod-|cri-containerd-|crio-|containerd-)?([0-9a-f]{64})(?:\.scope)?$/;

/** The container id (64 hex) in a /proc/<pid>/cgroup text, or null for a process outside containers. */
export function containerIdFromCgroup(text: string): string | null {
  for (const line of text.split('\n')) {
    // hierarchy-ID:controllers:path; the path may itself contain ':' on no known runtime, but keep it whole
    const path = line.split(':').slice(2).join(':');
    if (!path) continue;
    const parts = path.split('/');
    for (let i = parts.length - 1; i >= 0; i--) {
      const seg = parts[i]!;
      if (seg.startsWith('libpod-conmon-')) continue;
      const m = SEGMENT.exec(seg);
      if (m) return m[1]!;
    }
  }
  return null;
}

export interface ProcOwner {
  user: string | null;
  containerId: string | null;
}

export interface ProcInfoOptions {
  /** root of the file system holding proc/ and etc/passwd. @default '/' */
  root?: string;
  clock: Clock;
  /** how long a pid's owner is kept before it is read again. @default 10_000 */
  ttlMs?: number;
  /** how long /etc/passwd is kept. @default 60_000 */
  passwdTtlMs?: number;
}

/** Reads and caches owners of pids; entries of pids no longer asked for are dropped on `retain`. */
export class ProcInfo {
  private readonly root: string;
  private readonly cache = new Map<number, { at: number; owner: ProcOwner }>();
  private passwd: { at: number; users: Map<number, string> } | null = null;

  constructor(private readonly opts: ProcInfoOptions) {
    this.root = opts.root ?? '/';
  }

  async owners(pids: Iterable<number>): Promise<Map<number, ProcOwner>> {
    const now = this.opts.clock.now();
    const want = [...new Set(pids)];
    const out = new Map<number, ProcOwner>();
    const stale = want.filter((pid) => {
      const c = this.cache.get(pid);
      if (c && now - c.at < (this.opts.ttlMs ?? 10_000)) {
        out.set(pid, c.owner);
        return false;
      }
      return true;
    });
    if (stale.length) {
      const users = await this.users(now);
      await Promise.all(
        stale.map(async (pid) => {
          const owner = await this.read(pid, users);
          this.cache.set(pid, { at: now, owner });
          out.set(pid, owner);
        }),
      );
    }
    for (const pid of this.cache.keys()) if (!out.has(pid)) this.cache.delete(pid);
    return out;
  }

  private async users(now: number): Promise<Map<number, string>> {
    if (this.passwd && now - this.passwd.at < (this.opts.passwdTtlMs ?? 60_000)) return this.passwd.users;
    let users = new Map<number, string>();
    try {
      users = parsePasswd(await fsp.readFile(join(this.root, 'etc', 'passwd'), 'utf8'));
    } catch {
      // no passwd: owners stay numeric
    }
    this.passwd = { at: now, users };
    return users;
  }

  private async read(pid: number, users: Map<number, string>): Promise<ProcOwner> {
    const dir = join(this.root, 'proc', String(pid));
    const [status, cgroup] = await Promise.all([
      fsp.readFile(join(dir, 'status'), 'utf8').catch(() => null),
      fsp.readFile(join(dir, 'cgroup'), 'utf8').catch(() => null),
    ]);
    const uid = status === null ? null : uidFromStatus(status);
    return {
      // a uid without a passwd entry (a container's own user) is shown as the number
      user: uid === null ? null : (users.get(uid) ?? String(uid)),
      containerId: cgroup === null ? null : containerIdFromCgroup(cgroup),
    };
  }
}

/**
 * What /proc says about a process: its state, parent, process group and start time. The start time (field 22 of
 * /proc/<pid>/stat, clock ticks since boot) tells a process from a later one that was given the same pid.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ProcStat {
  pid: number;
  /** the command's name (up to 15 characters) */
  name: string;
  /** `R` running, `S` sleeping, `T` stopped, `Z` zombie (ended, not yet reaped)… */
  state: string;
  ppid: number;
  pgrp: number;
  /** field 22: clock ticks after boot */
  startTime: number;
}

/** One /proc/<pid>/stat line; null when it is not one. The command name may hold spaces and parentheses. */
export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const name = text.slice(open + 1, close);
  // fields 3… after the name: state is field 3, ppid 4, pgrp 5, starttime 22
  const f = text.slice(close + 1).trim().split(/\s+/);
  const state = f[0];
  const ppid = Number(f[1]);
  const pgrp = Number(f[2]);
  const startTime = Number(f[19]);
  if (!state || !Number.isInteger(pid) || !Number.isInteger(ppid) || !Number.isInteger(pgrp) || !Number.isInteger(startTime)) return null;
  return { pid, name, state, ppid, pgrp, startTime };
}

/** The process `pid` as /proc shows it now; null when there is none (or /proc cannot say). */
export function readStat(pid: number, procRoot = '/proc'): ProcStat | null {
  try {
    return parseStat(readFileSync(join(procRoot, String(pid), 'stat'), 'utf8'));
  } catch {
    return null;
  }
}

/** Every process of the process group `pgid` (zombies included). */
export function groupMembers(pgid: number, procRoot = '/proc'): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name), procRoot);
    if (s?.pgrp === pgid) out.push(s);
  }
  return out;
}

/**
 * The null-cell rule: what nvidia-smi prints where it has no figure becomes `null`, never NaN or a string.
 * Covers the bracketed CSV forms (`[N/A]`, `[Not Supported]`, `[Unknown Error]`, `[Insufficient Permissions]`,
 * `[Requested functionality has been deprecated]`, `[Function Not Found]`), their bare XML/-q forms, `Not Found`,
 * `Not available in WDDM driver model`, and empty cells.
 */

const NO_VALUE = new Set([
  'n/a', 'not supported', 'unknown error', 'insufficient permissions', 'requested functionality has been deprecated',
  'function not found', 'not found', 'not available', 'not available in wddm driver model',
]);

/** A text cell, or null when nvidia-smi says there is no value. */
export function cell(raw: string | undefined | null): string | null {
  if (raw === undefined || raw === null) return null;
  let s = raw.trim();
  if (s === '') return null;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1).trim();
  return NO_VALUE.has(s.toLowerCase()) ? null : s;
}

const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?/i;

/** A number, with any unit suffix (` MiB`, ` W`, ` %`, ` MHz`, ` C`, `x`) ignored; null when absent or not numeric. */
export function num(raw: string | undefined | null): number | null {
  const s = cell(raw);
  if (s === null) return null;
  const m = NUMBER.exec(s);
  if (!m) return null;
  // "16x" and "81559 MiB" carry a unit; "12abc" or "1.2.3" are not figures
  const rest = s.slice(m[0].length).trim();
  if (rest !== '' && !/^[a-z%/°]+(?:\([a-z]+\))?$/i.test(rest)) return null;
  const v = Number(m[0]);
  return Number.isFinite(v) ? v : null;
}

/** An integer (pids, instance ids); null when absent or not an integer. */
export function int(raw: string | undefined | null): number | null {
  const v = num(raw);
  return v !== null && Number.isInteger(v) ? v : null;
}

/** `Enabled`/`Disabled` (also `Yes`/`No`, `Active`/`Not Active`) → boolean; anything else → null. */
export function flag(raw: string | undefined | null): boolean | null {
  const s = cell(raw)?.toLowerCase();
  if (s === 'enabled' || s === 'yes' || s === 'active' || s === 'on') return true;
  if (s === 'disabled' || s === 'no' || s === 'not active' || s === 'off') return false;
  return null;
}

/**
 * PCI bus id in one spelling: nvidia-smi prints `00000000:0B:00.0` in CSV and XML but `0000:0B:00.0` in
 * "Unable to determine the device handle" messages. Returns `DDDDDDDD:BB:DD.F` upper-case, or the input trimmed.
 */
export function busId(raw: string | undefined | null): string | null {
  const s = cell(raw);
  if (s === null) return null;
  const m = /^([0-9a-f]{1,8}):([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-7])$/i.exec(s);
  if (!m) return s.toUpperCase();
  const hex = (v: string, n: number) => parseInt(v, 16).toString(16).toUpperCase().padStart(n, '0');
  return `${hex(m[1]!, 8)}:${hex(m[2]!, 2)}:${hex(m[3]!, 2)}.${m[4]}`;
}

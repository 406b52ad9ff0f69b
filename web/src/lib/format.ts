/** Number formatting for the dashboard. Fixed decimals so figures do not change width on every update. */

const IEC = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** `12.3 %` (one decimal, plain space). */
export function formatPercent(value: number): string {
  if (!Number.isFinite(value)) return '– %';
  return `${value.toFixed(1)} %`;
}

/** Bytes in IEC units: `512 B`, `1.5 KiB`, `3.25 GiB` (three significant digits). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '–';
  let v = Math.abs(bytes);
  let i = 0;
  while (v >= 1024 && i < IEC.length - 1) {
    v /= 1024;
    i++;
  }
  const sign = bytes < 0 ? '-' : '';
  if (i === 0) return `${sign}${Math.round(v)} B`;
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${sign}${v.toFixed(digits)} ${IEC[i]}`;
}

export function formatRate(bytesPerSec: number): string {
  return `${formatBytes(bytesPerSec)}/s`;
}

export function formatMiB(mib: number): string {
  return formatBytes(mib * 1024 * 1024);
}

export function formatMHz(mhz: number | null): string {
  if (mhz === null || !Number.isFinite(mhz)) return '–';
  return mhz >= 1000 ? `${(mhz / 1000).toFixed(2)} GHz` : `${Math.round(mhz)} MHz`;
}

export function formatClock(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Clamp to 0–100 for bar widths. */
export function clampPercent(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(100, Math.max(0, value));
}

/** Shown for a figure the driver does not report. */
export const MISSING = '—';

function fixed(value: number | null, digits: number): string {
  return value === null || !Number.isFinite(value) ? MISSING : value.toFixed(digits);
}

/** `40.0 %`, or `—` when not reported. */
export function formatPercentOrMissing(value: number | null): string {
  return value === null || !Number.isFinite(value) ? MISSING : formatPercent(value);
}

/** Memory as `used / total GiB` from MiB: `4.0 / 16.0 GiB`; `—` when neither is reported. */
export function formatGiBPair(usedMiB: number | null, totalMiB: number | null): string {
  if (usedMiB === null && totalMiB === null) return MISSING;
  const gib = (m: number | null) => fixed(m === null ? null : m / 1024, 1);
  return `${gib(usedMiB)} / ${gib(totalMiB)} GiB`;
}

/** `61 °C`, or `—`. */
export function formatCelsius(c: number | null): string {
  const v = fixed(c, 0);
  return v === MISSING ? v : `${v} °C`;
}

/** Power as `draw / limit W`: `120 / 300 W`; `—` when neither is reported. */
export function formatWattPair(drawW: number | null, limitW: number | null): string {
  if (drawW === null && limitW === null) return MISSING;
  return `${fixed(drawW, 0)} / ${fixed(limitW, 0)} W`;
}

/** A duration that keeps its width while it ticks: `45s`, `4m 05s`, `2h 03m`, `3d 04h`; negative as 0. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return MISSING;
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${pad(m % 60)}m`;
  return `${Math.floor(h / 24)}d ${pad(h % 24)}h`;
}

/** Millicores as cores: `500m`, `2 cores`, `1.5 cores`. */
export function formatCpu(millicores: number): string {
  if (millicores < 1000) return `${millicores}m CPU`;
  const cores = millicores / 1000;
  return `${Number.isInteger(cores) ? cores : cores.toFixed(1)} core${cores === 1 ? '' : 's'}`;
}

/** What a request asks for, in words: `2 GPUs · 4 cores · 8.00 GiB`, `8.00 GiB of a GPU`. Zero figures are left out. */
export function formatResources(r: { cpu: number; memoryMiB: number; gpus: number; gpuMemMiB?: number }): string {
  const parts: string[] = [];
  if (r.gpuMemMiB) parts.push(`${formatMiB(r.gpuMemMiB)} of a GPU`);
  else if (r.gpus > 0) parts.push(`${r.gpus} GPU${r.gpus === 1 ? '' : 's'}`);
  if (r.cpu > 0) parts.push(formatCpu(r.cpu));
  if (r.memoryMiB > 0) parts.push(`${formatMiB(r.memoryMiB)} RAM`);
  return parts.length ? parts.join(' · ') : 'nothing';
}

/** A strategy's name as people read it: `fair_sharing` → `fair sharing`. */
export function strategyLabel(name: string): string {
  return name.replace(/_/g, ' ');
}

/** Seconds with a precision that suits their size: `0.35 s`, `12.3 s`, `245 s`, then `4m 05s`; `—` when unknown. */
export function formatSeconds(sec: number | null): string {
  if (sec === null || !Number.isFinite(sec)) return MISSING;
  const s = Math.max(0, sec);
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 100) return `${s.toFixed(1)} s`;
  if (s < 600) return `${Math.round(s)} s`;
  return formatDuration(s * 1000);
}

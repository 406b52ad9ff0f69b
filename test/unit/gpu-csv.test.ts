import { describe, expect, it } from 'vitest';
import { isDriverMessage, parseAppRow, parseGpuRow, parseHandleError, splitBounded, APPS_FIELDS } from '../../server/monitor/sources/gpu/csv.ts';
import { parseHelpQueryGpu, planFields } from '../../server/monitor/sources/gpu/fields.ts';
import { CAPTURES, standIn } from '../stand-ins/gpu-fixtures.ts';

function planFor(name: string) {
  return planFields(parseHelpQueryGpu(standIn(name, ['--help-query-gpu'])));
}
function rowsFor(name: string, env: Record<string, string> = {}) {
  const plan = planFor(name);
  const out = standIn(name, [`--query-gpu=${plan.fields.join(',')}`, '--format=csv,noheader,nounits'], env);
  return { plan, lines: out.trim().split('\n') };
}

describe('gpu CSV rows', () => {
  it('splits a bounded number of times: the last cell keeps its ", "', () => {
    expect(splitBounded('a, b, c, d, e', 4)).toEqual(['a', 'b', 'c', 'd, e']);
    expect(splitBounded('a, b', 4)).toEqual(['a', 'b']);
    expect(splitBounded('', 2)).toEqual(['']);
  });

  it('reads an H100 MIG row: [N/A] utilisation under MIG is null', () => {
    const { plan, lines } = rowsFor(CAPTURES.h100);
    expect(lines).toHaveLength(1);
    const r = parseGpuRow(lines[0]!, plan)!;
    expect(r).toMatchObject({
      index: 0, uuid: 'GPU-00000000-0000-0000-0000-000000000000', name: 'NVIDIA H100 80GB HBM3', pciBusId: '00000000:00:09.0',
      driverVersion: '590.48.01', utilizationGpuPercent: null, utilizationMemoryPercent: null, memoryTotalMiB: 81559,
      memoryUsedMiB: 11125, memoryFreeMiB: 69956, temperatureC: 53, powerDrawW: 433.78, powerLimitW: 700, fanPercent: null,
      pstate: 'P0', clockSmMHz: 1980, clockMemMHz: 2619, migMode: true, eccErrorsCorrected: 0, eccErrorsUncorrected: 0, throttleReasons: [],
    });
  });

  it('reads a Windows row: power.draw.average [N/A] falls back to power.draw, no value is NaN or a string', () => {
    const { plan, lines } = rowsFor(CAPTURES.windows);
    const r = parseGpuRow(lines[0]!, plan)!;
    expect(r.powerDrawW).toBe(97.99);
    expect(r.fanPercent).toBe(38);
    expect(r.eccErrorsUncorrected).toBeNull();
    expect(r.migMode).toBeNull();
    for (const v of Object.values(r)) if (typeof v === 'number') expect(Number.isFinite(v)).toBe(true);
  });

  it('reads the idle H100 row with an active idle reason', () => {
    const { plan, lines } = rowsFor(CAPTURES.h100, { NVIDIA_SMI_PHASE: 'idle' });
    expect(parseGpuRow(lines[0]!, plan)!.throttleReasons).toEqual(['gpu_idle']);
  });

  it('rejects rows of another shape', () => {
    const { plan, lines } = rowsFor(CAPTURES.h100);
    expect(parseGpuRow(lines[0]!.slice(0, 40), plan)).toBeNull();
    expect(parseGpuRow('### garbage ###', plan)).toBeNull();
    expect(parseGpuRow(lines[0]!.replace('GPU-', 'XYZ-'), plan)).toBeNull();
  });

  it('reads compute-app rows with ", " in the process name (name last, bounded split)', () => {
    expect(APPS_FIELDS.at(-1)).toBe('process_name');
    const out = standIn('telegraf-rtx-3080-wsl2-wddm-v12-536.40.xml', [`--query-compute-apps=${APPS_FIELDS.join(',')}`, '--format=csv,noheader,nounits'], { NVIDIA_SMI_ALL_APPS: '1' });
    const rows = out.trim().split('\n').map((l) => parseAppRow(l)!);
    expect(rows).toHaveLength(5);
    const edge = rows.find((r) => r.pid === 2214)!;
    expect(edge.usedMemoryMiB).toBe(79);
    expect(edge.name).toMatch(/^\/opt\/microsoft\/msedge\/msedge --type=gpu-process .*--enable-crash-reporter=, --change-stack-guard-on-fork=enable .*--variations-seed-version$/);
    expect(rows.find((r) => r.pid === 42416)!.name).toContain('--enable-crash-reporter=6f39585a-ecc4-42e2-b899-9456cbe56b44,no_channel');
  });

  it('keeps a Windows row whose memory is [N/A]', () => {
    const out = standIn(CAPTURES.windows, [`--query-compute-apps=${APPS_FIELDS.join(',')}`, '--format=csv,noheader,nounits']);
    const rows = out.trim().split('\n').map((l) => parseAppRow(l)!);
    expect(rows).toHaveLength(21);
    expect(rows.every((r) => r.usedMemoryMiB === null)).toBe(true);
    expect(rows.map((r) => r.name)).toContain('C:\\Program Files (x86)\\Microsoft\\EdgeWebView\\Application\\149.0.4022.80\\msedgewebview2.exe');
  });

  it('recognises a lost GPU and the driver messages', () => {
    expect(parseHandleError('Unable to determine the device handle for GPU 0000:0B:00.0: Unknown Error')).toEqual({
      busId: '00000000:0B:00.0', message: 'Unable to determine the device handle for GPU 0000:0B:00.0: Unknown Error',
    });
    expect(parseHandleError('0, GPU-1, x')).toBeNull();
    expect(isDriverMessage("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.")).toBe(true);
    expect(isDriverMessage('Failed to initialize NVML: Driver/library version mismatch')).toBe(true);
    expect(isDriverMessage('### garbage')).toBe(false);
  });
});

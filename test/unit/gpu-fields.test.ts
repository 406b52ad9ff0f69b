import { describe, expect, it } from 'vitest';
import { parseHelpQueryGpu, planFields } from '../../server/monitor/sources/gpu/fields.ts';
import { CAPTURES, readFixture, standIn } from '../stand-ins/gpu-fixtures.ts';

function helpSection(capture: string): string {
  const text = readFixture(capture);
  const from = text.indexOf('# $ nvidia-smi --help-query-gpu');
  return text.slice(from, text.indexOf('# capabilities :: help-query-compute-apps', from));
}

describe('gpu fields from --help-query-gpu', () => {
  it('reads every field and its aliases from a 590 driver', () => {
    const help = parseHelpQueryGpu(helpSection(CAPTURES.h100));
    expect(help.valid.has('memory.total')).toBe(true);
    expect(help.valid.has('clocks_throttle_reasons.hw_slowdown')).toBe(true);
    expect(help.canonical.get('clocks_throttle_reasons.hw_slowdown')).toBe('clocks_event_reasons.hw_slowdown');
    expect(help.canonical.get('clocks.sm')).toBe('clocks.current.sm');
    expect(help.valid.has('bogus')).toBe(false);
    // description lines that quote values are not fields
    expect(help.valid.has('Supported')).toBe(false);
  });

  it('asks each field once, newest spelling first, all power readings', () => {
    const plan = planFields(parseHelpQueryGpu(helpSection(CAPTURES.h100)));
    expect(plan.missing).toEqual([]);
    expect(plan.fields).toContain('clocks_event_reasons.hw_slowdown');
    expect(plan.fields).not.toContain('clocks_throttle_reasons.hw_slowdown');
    expect(plan.fields).toContain('clocks.current.sm');
    expect(plan.fields).not.toContain('clocks.sm');
    expect(plan.columns.powerDraw!.map((c) => plan.fields[c])).toEqual(['power.draw.average', 'power.draw', 'power.draw.instant']);
    expect(new Set(plan.fields).size).toBe(plan.fields.length);
  });

  it('drops fields an old driver does not know (one unknown field fails the whole query)', () => {
    // the stand-in lists for a 384 driver's document only what that driver could answer
    const plan = planFields(parseHelpQueryGpu(standIn('pai-gtx-1070-v9-384.66.xml', ['--help-query-gpu'])));
    expect(plan.fields).toContain('clocks_throttle_reasons.hw_slowdown');
    expect(plan.fields.some((f) => f.startsWith('clocks_event_reasons.'))).toBe(false);
    expect(plan.fields).not.toContain('power.draw.average');
    expect(plan.dropped).toEqual(expect.arrayContaining(['power.draw.average', 'power.draw.instant', 'mig.mode.current', 'clocks_event_reasons.hw_slowdown']));
    // this document has no thermal/power-brake reasons: those figures stay null (no reason reported)
    expect(plan.missing).toEqual(['migMode', 'throttle.hw_thermal_slowdown', 'throttle.hw_power_brake_slowdown', 'throttle.sw_thermal_slowdown']);
    expect(plan.columns.powerDraw!.map((c) => plan.fields[c])).toEqual(['power.draw']);
  });

  it('refuses a help text without index and uuid', () => {
    expect(() => planFields(parseHelpQueryGpu('nothing here'))).toThrow(/index/);
  });
});

import { describe, expect, it } from 'vitest';
import { rate, worst } from '../../server/monitor/health.ts';

describe('health', () => {
  const t = { warning: 80, critical: 95 };
  it('rates a value against warning and critical thresholds, inclusive', () => {
    expect(rate(10, t)).toBe('healthy');
    expect(rate(79.9, t)).toBe('healthy');
    expect(rate(80, t)).toBe('warning');
    expect(rate(94.9, t)).toBe('warning');
    expect(rate(95, t)).toBe('critical');
    expect(rate(100, t)).toBe('critical');
  });
  it('rates a missing or non-finite value as error', () => {
    expect(rate(null, t)).toBe('error');
    expect(rate(undefined, t)).toBe('error');
    expect(rate(Number.NaN, t)).toBe('error');
  });
  it('takes the worst rating', () => {
    expect(worst([])).toBe('healthy');
    expect(worst(['healthy', 'warning'])).toBe('warning');
    expect(worst(['critical', 'warning', 'healthy'])).toBe('critical');
    expect(worst(['critical', 'error'])).toBe('error');
  });
});

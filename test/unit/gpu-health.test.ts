import { describe, expect, it } from 'vitest';
import { GPU_HEALTH_DEFAULTS, gpuHealth } from '../../server/monitor/sources/gpu/health.ts';
import { fakeGpu } from '../helpers/fake-gpu.ts';

const gpu = (over: Parameters<typeof fakeGpu>[1]) => {
  const { health: _, ...g } = fakeGpu(0, { temperatureC: 50, memoryUsedMiB: 1000, memoryTotalMiB: 10000, ...over });
  return g;
};

describe('gpu health', () => {
  it('has the documented defaults', () => {
    expect(GPU_HEALTH_DEFAULTS.temperature).toEqual({ warning: 80, critical: 90 });
    expect(GPU_HEALTH_DEFAULTS.memory).toEqual({ warning: 90, critical: 98 });
  });
  it('rates temperature and memory use', () => {
    expect(gpuHealth(gpu({}))).toBe('healthy');
    expect(gpuHealth(gpu({ temperatureC: 80 }))).toBe('warning');
    expect(gpuHealth(gpu({ temperatureC: 91 }))).toBe('critical');
    expect(gpuHealth(gpu({ memoryUsedMiB: 9000 }))).toBe('warning');
    expect(gpuHealth(gpu({ memoryUsedMiB: 9850 }))).toBe('critical');
  });
  it('an uncorrected ECC error is critical; hardware and thermal throttling is a warning, idle is not', () => {
    expect(gpuHealth(gpu({ eccErrorsUncorrected: 1 }))).toBe('critical');
    expect(gpuHealth(gpu({ eccErrorsCorrected: 50 }))).toBe('healthy');
    expect(gpuHealth(gpu({ throttleReasons: ['hw_thermal_slowdown'] }))).toBe('warning');
    expect(gpuHealth(gpu({ throttleReasons: ['gpu_idle', 'sw_power_cap'] }))).toBe('healthy');
  });
  it('missing figures are not rated; a GPU in error is error', () => {
    expect(gpuHealth(gpu({ temperatureC: null, memoryUsedMiB: null, eccErrorsUncorrected: null }))).toBe('healthy');
    expect(gpuHealth(gpu({ status: 'error', message: 'lost' }))).toBe('error');
  });
  it('takes thresholds from the caller', () => {
    expect(gpuHealth(gpu({ temperatureC: 70 }), { ...GPU_HEALTH_DEFAULTS, temperature: { warning: 60, critical: 65 } })).toBe('critical');
  });
});

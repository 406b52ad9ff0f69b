/**
 * Health of one GPU: the worst of temperature, memory used %, uncorrected ECC errors and active hardware
 * throttling; `error` when the driver cannot reach the GPU. A figure the GPU does not report (null, e.g.
 * utilisation under MIG) is not rated: it does not make the GPU unhealthy.
 */
import type { Gpu, Health } from '../../../../shared/resources.ts';
import { rate, worst, type Thresholds } from '../../health.ts';
import type { ThrottleReason } from './fields.ts';

export interface GpuThresholds {
  /** °C. @default { warning: 80, critical: 90 } */
  temperature: Thresholds;
  /** memory used, percent of total. @default { warning: 90, critical: 98 } */
  memory: Thresholds;
  /** any uncorrected (volatile) ECC error rates the GPU this. @default 'critical' */
  eccUncorrected: Health;
  /** active throttle reasons that rate the GPU `warning`. @default hardware and thermal slowdowns */
  throttleWarning: readonly ThrottleReason[];
}

export const GPU_HEALTH_DEFAULTS: GpuThresholds = {
  temperature: { warning: 80, critical: 90 },
  memory: { warning: 90, critical: 98 },
  eccUncorrected: 'critical',
  throttleWarning: ['hw_slowdown', 'hw_thermal_slowdown', 'hw_power_brake_slowdown', 'sw_thermal_slowdown'],
};

export function memoryUsedPercent(g: Pick<Gpu, 'memoryUsedMiB' | 'memoryTotalMiB'>): number | null {
  return g.memoryUsedMiB !== null && g.memoryTotalMiB ? (g.memoryUsedMiB / g.memoryTotalMiB) * 100 : null;
}

export function gpuHealth(g: Omit<Gpu, 'health'>, t: GpuThresholds = GPU_HEALTH_DEFAULTS): Health {
  if (g.status === 'error') return 'error';
  const ratings: Health[] = ['healthy'];
  if (g.temperatureC !== null) ratings.push(rate(g.temperatureC, t.temperature));
  const mem = memoryUsedPercent(g);
  if (mem !== null) ratings.push(rate(mem, t.memory));
  if (g.eccErrorsUncorrected !== null && g.eccErrorsUncorrected > 0) ratings.push(t.eccUncorrected);
  if (g.throttleReasons.some((r) => (t.throttleWarning as readonly string[]).includes(r))) ratings.push('warning');
  return worst(ratings);
}

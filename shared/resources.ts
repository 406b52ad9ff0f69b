/** Resource snapshot schemas: what the monitor reports, pushed as `resource_status` and served by /api/status. */
import { z } from 'zod';

export const HealthSchema = z.enum(['healthy', 'warning', 'critical', 'error']);
export type Health = z.infer<typeof HealthSchema>;

/** State of one monitor source (host, gpu, docker). */
export const SourceStatusSchema = z.object({
  status: z.enum(['starting', 'ok', 'error', 'unavailable']),
  message: z.string().optional(),
  lastSampleAt: z.number().nullable(),
  lastErrorAt: z.number().nullable(),
  consecutiveFailures: z.number().int(),
  nextRetryAt: z.number().nullable(),
});
export type SourceStatus = z.infer<typeof SourceStatusSchema>;

export const CpuSchema = z.object({
  model: z.string(),
  cores: z.number().int(),
  /** total load over all cores, percent 0–100 */
  loadPercent: z.number(),
  /** per logical core, percent 0–100 */
  perCore: z.array(z.number()),
  /** current average frequency of the cores, MHz (null where the OS does not expose it) */
  speedMHz: z.number().nullable(),
  speedMinMHz: z.number().nullable(),
  speedMaxMHz: z.number().nullable(),
  /** 1, 5 and 15 minute load averages */
  loadAvg: z.tuple([z.number(), z.number(), z.number()]),
  health: HealthSchema,
});
export type Cpu = z.infer<typeof CpuSchema>;

export const MemorySchema = z.object({
  totalMiB: z.number(),
  usedMiB: z.number(),
  availableMiB: z.number(),
  usedPercent: z.number(),
  swapTotalMiB: z.number(),
  swapUsedMiB: z.number(),
  swapUsedPercent: z.number(),
  health: HealthSchema,
});
export type Memory = z.infer<typeof MemorySchema>;

export const DiskSchema = z.object({
  mount: z.string(),
  device: z.string(),
  fsType: z.string(),
  sizeBytes: z.number(),
  usedBytes: z.number(),
  availableBytes: z.number(),
  usedPercent: z.number(),
  health: HealthSchema,
});
export type Disk = z.infer<typeof DiskSchema>;

export const NetworkInterfaceSchema = z.object({
  iface: z.string(),
  rxBytesPerSec: z.number(),
  txBytesPerSec: z.number(),
  rxBytesTotal: z.number(),
  txBytesTotal: z.number(),
});
export type NetworkInterface = z.infer<typeof NetworkInterfaceSchema>;

/** One sample of the host source. */
export const HostSampleSchema = z.object({
  sampledAt: z.number(),
  hostname: z.string(),
  uptimeSec: z.number(),
  cpu: CpuSchema,
  memory: MemorySchema,
  disks: z.array(DiskSchema),
  network: z.array(NetworkInterfaceSchema),
});
export type HostSample = z.infer<typeof HostSampleSchema>;

/** The whole latest picture of a node: the `data` of a `resource_status` event and the body of GET /api/status. */
export const ResourceStatusSchema = z.object({
  node: z.string(),
  sampledAt: z.number(),
  sources: z.record(z.string(), SourceStatusSchema),
  host: HostSampleSchema.nullable(),
  /** worst health over every rated metric */
  health: HealthSchema,
}).meta({ id: 'ResourceStatus' });
export type ResourceStatus = z.infer<typeof ResourceStatusSchema>;

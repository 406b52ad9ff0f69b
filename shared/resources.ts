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

/** A MIG instance of a GPU (from `nvidia-smi -q -x`). */
export const MigInstanceSchema = z.object({
  gpuInstanceId: z.number().int(),
  computeInstanceId: z.number().int().nullable(),
  /** e.g. "3g.40gb" where the driver reports it */
  profile: z.string().nullable(),
  memoryTotalMiB: z.number().nullable(),
  memoryUsedMiB: z.number().nullable(),
  smCount: z.number().int().nullable(),
});
export type MigInstance = z.infer<typeof MigInstanceSchema>;

/** A process holding GPU memory. */
export const GpuProcessSchema = z.object({
  pid: z.number().int(),
  name: z.string(),
  /** C compute, G graphics, C+G both; null where only --query-compute-apps saw it */
  type: z.enum(['C', 'G', 'C+G']).nullable(),
  usedMemoryMiB: z.number().nullable(),
  gpuUuid: z.string(),
  gpuIndex: z.number().int().nullable(),
  gpuInstanceId: z.number().int().nullable(),
  computeInstanceId: z.number().int().nullable(),
  /** owner, where /proc/<pid> is readable */
  user: z.string().nullable(),
  /** container id from /proc/<pid>/cgroup, where readable */
  containerId: z.string().nullable(),
  /** that container's name, filled in where the docker source knows it */
  containerName: z.string().nullable().optional(),
  /**
   * its process group on its node, filled in by an agent (`arbiter agent`) where it can read /proc/<pid>/stat: a
   * worker's processes share the group its agent started it in, so the hub tells a worker's GPU use from an
   * unmanaged process's on a node whose /proc it cannot read
   */
  processGroup: z.number().int().nullable().optional(),
});
export type GpuProcess = z.infer<typeof GpuProcessSchema>;

/** One NVIDIA GPU. Figures the driver does not report are null, never NaN or a string. */
export const GpuSchema = z.object({
  index: z.number().int(),
  uuid: z.string(),
  name: z.string(),
  pciBusId: z.string().nullable(),
  driverVersion: z.string().nullable(),
  /** `ok`, or `error` with `message` when the driver cannot reach this GPU while others keep reporting */
  status: z.enum(['ok', 'error']),
  message: z.string().optional(),
  utilizationGpuPercent: z.number().nullable(),
  utilizationMemoryPercent: z.number().nullable(),
  memoryTotalMiB: z.number().nullable(),
  memoryUsedMiB: z.number().nullable(),
  memoryFreeMiB: z.number().nullable(),
  temperatureC: z.number().nullable(),
  powerDrawW: z.number().nullable(),
  powerLimitW: z.number().nullable(),
  fanPercent: z.number().nullable(),
  pstate: z.string().nullable(),
  clockSmMHz: z.number().nullable(),
  clockMemMHz: z.number().nullable(),
  migMode: z.boolean().nullable(),
  eccErrorsCorrected: z.number().nullable(),
  eccErrorsUncorrected: z.number().nullable(),
  /** active clock throttle / event reasons, e.g. ["hw_slowdown", "sw_thermal_slowdown"]; [] when none */
  throttleReasons: z.array(z.string()),
  migInstances: z.array(MigInstanceSchema),
  processes: z.array(GpuProcessSchema),
  health: HealthSchema,
  sampledAt: z.number(),
});
export type Gpu = z.infer<typeof GpuSchema>;

/** A GPU a container holds, and how we know. */
export const ContainerGpuSchema = z.object({
  index: z.number().int().nullable(),
  uuid: z.string().nullable(),
  /** device_request: HostConfig.DeviceRequests; env: NVIDIA_VISIBLE_DEVICES / CUDA_VISIBLE_DEVICES; process: a GPU process runs in it */
  via: z.enum(['device_request', 'env', 'process']),
});
export type ContainerGpu = z.infer<typeof ContainerGpuSchema>;

/** A Docker (or Podman) container. Stats are null until measured (and for containers that are not running). */
export const ContainerSchema = z.object({
  id: z.string(),
  /** without the leading "/" */
  name: z.string(),
  image: z.string(),
  state: z.enum(['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead', 'stopped', 'unknown']),
  /** the engine's status text, e.g. "Up 2 hours" */
  statusText: z.string(),
  createdAt: z.number().nullable(),
  startedAt: z.number().nullable(),
  labels: z.record(z.string(), z.string()),
  ports: z.array(z.object({ privatePort: z.number().int(), publicPort: z.number().int().nullable(), type: z.string(), ip: z.string().nullable() })),
  restartCount: z.number().int(),
  /** the container's own HEALTHCHECK result, where it has one */
  healthcheck: z.enum(['starting', 'healthy', 'unhealthy']).nullable(),
  /** 100 = one core busy, as `docker stats` shows it */
  cpuPercent: z.number().nullable(),
  memoryUsedMiB: z.number().nullable(),
  memoryLimitMiB: z.number().nullable(),
  memoryPercent: z.number().nullable(),
  netRxBytesPerSec: z.number().nullable(),
  netTxBytesPerSec: z.number().nullable(),
  blockReadBytes: z.number().nullable(),
  blockWriteBytes: z.number().nullable(),
  pids: z.number().int().nullable(),
  gpus: z.array(ContainerGpuSchema),
  health: HealthSchema,
  sampledAt: z.number(),
});
export type Container = z.infer<typeof ContainerSchema>;

/** The whole latest picture of a node: the `data` of a `resource_status` event and the body of GET /api/status. */
export const ResourceStatusSchema = z.object({
  node: z.string(),
  sampledAt: z.number(),
  sources: z.record(z.string(), SourceStatusSchema),
  host: HostSampleSchema.nullable(),
  /** NVIDIA GPUs; [] when the gpu source is unavailable (no driver) */
  gpus: z.array(GpuSchema),
  /** Docker/Podman containers; [] when the docker source is unavailable */
  containers: z.array(ContainerSchema),
  /** worst health over every rated metric */
  health: HealthSchema,
}).meta({ id: 'ResourceStatus' });
export type ResourceStatus = z.infer<typeof ResourceStatusSchema>;

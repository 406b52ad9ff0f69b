/**
 * Workers on an agent's node, in the agent ↔ hub protocol (shared/agents.ts): the hub asks the agent of the node
 * that holds a worker's grant to start it (`worker_start`), to stop, pause or resume it, or for its last lines; the
 * agent runs it on its own backend and answers each with an ack. What happens to a worker afterwards — it exits —
 * the agent reports as `worker_state`, numbered by `seq` per boot and acknowledged once the hub has stored it, sent
 * again after a reconnect when welcome's `lastWorkerSeq` is below it (as snapshots are). At each connection the
 * agent also sends its `worker_inventory`: every worker it runs, and those that ended and whose end the hub has not
 * acknowledged; the hub squares its book with it (server/workloads/workers/reconcile.ts).
 */
import { z } from 'zod';
import { ContainerSpecSchema, WorkerBackendSchema, WorkerRefSchema } from './workers.ts';

const workerId = z.string().min(1).max(512);
const lines = z.array(z.string()).max(10_000);

/** What an agent offers for workers, in its hello. */
export const AgentWorkerOfferSchema = z.strictObject({
  /** the backends it runs workers with */
  backends: z.array(WorkerBackendSchema).min(1),
  /**
   * where the hub reaches its workers' ports (--advertise-host); absent: the address the hub sees the agent
   * connect from
   */
  host: z.string().min(1).max(255).optional(),
});
export type AgentWorkerOffer = z.infer<typeof AgentWorkerOfferSchema>;

/** Hub → agent: start this worker (its grant is on the agent's node). Starting one it already runs answers as it runs. */
export const WorkerStartSchema = z.strictObject({
  workerId,
  group: z.string().min(1).max(128),
  replica: z.int().min(0),
  backend: WorkerBackendSchema,
  spec: ContainerSpecSchema,
  /** the worker's environment on top of the agent's (spec.env_vars, ARBITER_WORKER_ID, CUDA_VISIBLE_DEVICES…) */
  env: z.record(z.string(), z.string()),
  /** the GPU indices granted on the agent's node */
  gpus: z.array(z.int().min(0)),
  /** its port; 0: the agent picks a free one and gives it as ARBITER_PORT */
  port: z.int().min(0).max(65_535),
});
export type WorkerStart = z.infer<typeof WorkerStartSchema>;

/** A worker the agent runs: its port, when it started, how the agent finds it again. */
export const AgentRunningSchema = z.object({
  port: z.int().min(1).max(65_535),
  startedAt: z.number(),
  ref: WorkerRefSchema,
});
export type AgentRunning = z.infer<typeof AgentRunningSchema>;

export const WorkerStartAckSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), running: AgentRunningSchema }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
export type WorkerStartAck = z.infer<typeof WorkerStartAckSchema>;

/** Hub → agent: stop it gracefully, killed after graceMs; acknowledged once asked (its exit comes as worker_state). */
export const WorkerStopSchema = z.strictObject({ workerId, graceMs: z.int().min(0).max(3_600_000) });
export type WorkerStop = z.infer<typeof WorkerStopSchema>;
/** Hub → agent: pause or resume it (time-slicing). */
export const WorkerSignalSchema = z.strictObject({ workerId });
export type WorkerSignal = z.infer<typeof WorkerSignalSchema>;
/** Hub → agent: its last lines of output. */
export const WorkerLogsAskSchema = z.strictObject({ workerId, tail: z.int().min(1).max(100_000) });
export type WorkerLogsAsk = z.infer<typeof WorkerLogsAskSchema>;

export const WorkerCommandAckSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
export type WorkerCommandAck = z.infer<typeof WorkerCommandAckSchema>;
export const WorkerLogsAckSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), lines }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
export type WorkerLogsAck = z.infer<typeof WorkerLogsAckSchema>;

/** How a worker ended: its status (null: killed by a signal, or not kept). */
export const WorkerExitSchema = z.object({ code: z.int().nullable(), signal: z.string().nullable() });

/**
 * Agent → hub: what happened to a worker. `started`: the agent started it (also told in the start's ack; this one
 * arrives even when that ack was lost); `exited`: it ended, with its status and last lines.
 */
export const AgentWorkerStateSchema = z.discriminatedUnion('state', [
  z.strictObject({ seq: z.int().min(1), workerId, backend: WorkerBackendSchema, state: z.literal('started'), running: AgentRunningSchema }),
  z.strictObject({ seq: z.int().min(1), workerId, backend: WorkerBackendSchema, state: z.literal('exited'), exit: WorkerExitSchema, lastLines: lines }),
]);
export type AgentWorkerState = z.infer<typeof AgentWorkerStateSchema>;
export const WorkerStateAckSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), seq: z.int().min(1) }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
export type WorkerStateAck = z.infer<typeof WorkerStateAckSchema>;

/** One worker of an agent's inventory: running (exit null), or ended with an end the hub has not acknowledged. */
export const InventoryItemSchema = z.object({
  workerId,
  backend: WorkerBackendSchema,
  running: AgentRunningSchema,
  exit: WorkerExitSchema.nullable(),
  lastLines: lines,
});
export type InventoryItem = z.infer<typeof InventoryItemSchema>;
/** Agent → hub at each connection: every worker it knows of. */
export const WorkerInventorySchema = z.strictObject({ workers: z.array(InventoryItemSchema).max(100_000) });
export type WorkerInventory = z.infer<typeof WorkerInventorySchema>;

/** The hub's calls to an agent: message and ack of each. */
export interface WorkerCalls {
  worker_start: [WorkerStart, WorkerStartAck];
  worker_stop: [WorkerStop, WorkerCommandAck];
  worker_pause: [WorkerSignal, WorkerCommandAck];
  worker_resume: [WorkerSignal, WorkerCommandAck];
  worker_logs: [WorkerLogsAsk, WorkerLogsAck];
}
export type WorkerCall = keyof WorkerCalls;

/** Each call's message and ack schemas (the agent reads the message, the hub the ack). */
export const WORKER_CALLS: { [K in WorkerCall]: { msg: z.ZodType<WorkerCalls[K][0]>; ack: z.ZodType<WorkerCalls[K][1]> } } = {
  worker_start: { msg: WorkerStartSchema, ack: WorkerStartAckSchema },
  worker_stop: { msg: WorkerStopSchema, ack: WorkerCommandAckSchema },
  worker_pause: { msg: WorkerSignalSchema, ack: WorkerCommandAckSchema },
  worker_resume: { msg: WorkerSignalSchema, ack: WorkerCommandAckSchema },
  worker_logs: { msg: WorkerLogsAskSchema, ack: WorkerLogsAckSchema },
};

export type HubToAgentWorkerEvents = { [K in WorkerCall]: (msg: WorkerCalls[K][0], ack: (res: WorkerCalls[K][1]) => void) => void };
export interface AgentToHubWorkerEvents {
  worker_state: (msg: AgentWorkerState, ack: (res: WorkerStateAck) => void) => void;
  worker_inventory: (msg: WorkerInventory, ack: (res: WorkerCommandAck) => void) => void;
}

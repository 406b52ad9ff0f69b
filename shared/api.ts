/** REST request/response schemas. */
import { z } from 'zod';
import { SourceStatusSchema } from './resources.ts';
import { EventTypesParamSchema } from './events.ts';

export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
  }),
}).meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

export const HealthResponseSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  uptimeMs: z.number(),
  node: z.string(),
  sources: z.record(z.string(), SourceStatusSchema),
});
export type HealthResponse = z.infer<typeof HealthResponseSchema>;

const nonNegInt = z.coerce
  .number({ error: 'expected a non-negative integer' })
  .int({ error: 'expected a non-negative integer' })
  .nonnegative({ error: 'expected a non-negative integer' });

export const GpuIndexParamsSchema = z.object({ index: nonNegInt });

/** a container's full id, an id prefix (at least 4 characters) or its name */
export const ContainerIdParamsSchema = z.object({ id: z.string().min(1).max(256) });

export const EventsQuerySchema = z.object({
  types: EventTypesParamSchema.optional(),
  lastEventId: nonNegInt.optional(),
});

export const HistoryQuerySchema = z.object({
  /** comma-separated series names, e.g. `cpu.total,mem.used` */
  series: z
    .string()
    .min(1)
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)),
  /** epoch ms; default: one hour ago */
  sinceMs: nonNegInt.optional(),
  /** epoch ms; default: now */
  untilMs: nonNegInt.optional(),
  /** downsample to one point per `stepMs` (mean), at least 1000 */
  stepMs: z.coerce.number().int().min(1000).optional(),
});
export type HistoryQuery = z.infer<typeof HistoryQuerySchema>;

/** Columnar, as charts want it: `t[i]` epoch ms, `v[i]` value (null where no sample). */
export const HistorySeriesSchema = z.object({
  name: z.string(),
  t: z.array(z.number()),
  v: z.array(z.number().nullable()),
});
export const HistoryResponseSchema = z.object({ series: z.array(HistorySeriesSchema) });
export type HistoryResponse = z.infer<typeof HistoryResponseSchema>;

export const SeriesListResponseSchema = z.object({ series: z.array(z.string()) });

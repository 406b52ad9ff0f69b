/** REST request/response schemas. */
import { z } from 'zod';
import { decimalInt } from './query.ts';
import { SourceStatusSchema } from './resources.ts';
import { EventTypesParamSchema } from './events.ts';
import { ROLES, SSE_FORMATS } from './names.ts';
import { AllocationSchema, nameSchema } from './scheduler.ts';

export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
  }),
}).meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** GET /api/health: the status to anyone (load balancers, uptime checks); the rest only with a valid token. */
export const HealthResponseSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string().optional(),
  uptimeMs: z.number().optional(),
  node: z.string().optional(),
  sources: z.record(z.string(), SourceStatusSchema).optional(),
});
export type HealthResponse = z.infer<typeof HealthResponseSchema>;

const nonNegInt = decimalInt(0, Number.MAX_SAFE_INTEGER, 'expected a non-negative integer');

export const GpuIndexParamsSchema = z.object({ index: nonNegInt });

/** a container's full id, an id prefix (at least 4 characters) or its name */
export const ContainerIdParamsSchema = z.object({ id: z.string().min(1).max(256) });

export const EventsQuerySchema = z.object({
  types: EventTypesParamSchema.optional(),
  lastEventId: nonNegInt.optional(),
  /** `event` (default): named frames, `event: <type>`; `message`: unnamed frames for `EventSource.onmessage`, the type inside `data` */
  format: z.enum(SSE_FORMATS).default('event'),
});

export const HistoryQuerySchema = z.object({
  /** comma-separated series names, e.g. `cpu.total,mem.used` */
  series: z
    .string()
    .min(1)
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)),
  /** epoch ms; default: one hour ago. Older than the in-memory hour: points of the on-disk tier */
  sinceMs: nonNegInt.optional(),
  /** epoch ms; default: now */
  untilMs: nonNegInt.optional(),
  /** downsample to one point per `stepMs` (mean, weighted by samples), at least 1000 */
  stepMs: decimalInt(1000).optional(),
});
export type HistoryQuery = z.infer<typeof HistoryQuerySchema>;

/**
 * A run of points of one resolution: `t[start] … t[end - 1]`. The last hour comes from memory at 1 s, older
 * points from the on-disk tier (one mean per bucket, 1 min by default); `stepMs` coarsens both.
 */
export const HistorySegmentSchema = z.object({
  /** index in `t` / `v` of the run's first point */
  start: z.number().int().min(0),
  /** index after its last point */
  end: z.number().int().min(0),
  /** one point per this many ms at most (1000 in memory, the bucket on disk, or `stepMs`) */
  resolutionMs: z.number().int().positive(),
});
export type HistorySegment = z.infer<typeof HistorySegmentSchema>;

/** Columnar, as charts want it: `t[i]` epoch ms, `v[i]` value (null where no sample), oldest first. */
export const HistorySeriesSchema = z.object({
  name: z.string(),
  t: z.array(z.number()),
  v: z.array(z.number().nullable()),
  /** the resolution of each run of points, in order, covering `t` (absent from servers without an on-disk tier) */
  segments: z.array(HistorySegmentSchema).optional(),
});
export type HistorySeries = z.infer<typeof HistorySeriesSchema>;
export const HistoryResponseSchema = z.object({ series: z.array(HistorySeriesSchema) });
export type HistoryResponse = z.infer<typeof HistoryResponseSchema>;

export const SeriesListResponseSchema = z.object({ series: z.array(z.string()) });

/**
 * The token may come as `?access_token=` on every route (for clients that cannot set a header): it is the auth's, so
 * the strict query schemas of the routes accept it beside their own keys.
 */
export const TOKEN_QUERY = { access_token: z.string().optional() };

/** GET /api/allocations: active ones, or (`state=all`) also those that ended at or after `sinceMs` (default: an hour ago). */
export const AllocationsQuerySchema = z.strictObject({
  ...TOKEN_QUERY,
  state: z.enum(['active', 'all']).default('active'),
  sinceMs: nonNegInt.optional(),
});
/** An allocation with the owner of its request (when the server still knows the request). */
export const AllocationViewSchema = AllocationSchema.extend({ owner: z.string().optional() }).meta({ id: 'AllocationView' });
export type AllocationView = z.infer<typeof AllocationViewSchema>;
export const AllocationsResponseSchema = z.object({ allocations: z.array(AllocationViewSchema) });

export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

/**
 * GET /api/session: whether auth is on, this token's role, whether it may act as admin (switch the strategy), and
 * the name of a named token (`owner`: the owner it is bound to, when it is).
 */
export const SessionSchema = z.object({
  auth: z.boolean(), admin: z.boolean(), role: RoleSchema, name: z.string().optional(), owner: z.string().optional(),
}).meta({ id: 'Session' });

/** A token's name: what `arbiter token create --name` gives, the owner it is bound to (letters, digits, `._@-`). */
export const TokenNameSchema = nameSchema(64).regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, 'letters, digits and . _ @ - (starting with a letter or digit)');
/** POST /api/tokens (and `arbiter token create`): `bindOwner` (default true) lets the token act only for the owner of its name. */
export const TokenCreateBodySchema = z.strictObject({ name: TokenNameSchema, role: RoleSchema, bindOwner: z.boolean().default(true) });
export type TokenCreateBody = z.input<typeof TokenCreateBodySchema>;
/** A named token as listed: never the token itself (only its hash is stored). */
export const TokenViewSchema = z.object({
  name: z.string(), role: RoleSchema, bindOwner: z.boolean(), createdAt: z.number(), revokedAt: z.number().nullable(), lastUsedAt: z.number().nullable(),
}).meta({ id: 'Token' });
export type TokenView = z.infer<typeof TokenViewSchema>;
export const TokensResponseSchema = z.object({ tokens: z.array(TokenViewSchema) });
/** The answer of a create: the token, shown this once. */
export const TokenCreatedSchema = TokenViewSchema.extend({ token: z.string() }).meta({ id: 'TokenCreated' });
export const TokenNameParamsSchema = z.object({ name: TokenNameSchema });
export type Session = z.infer<typeof SessionSchema>;

/** One check of `arbiter doctor` / GET /api/doctor: what it found and, when something is wrong, the fix. */
export const DoctorCheckSchema = z.object({
  id: z.string(),
  /** the part it concerns: the monitor source (gpu, docker, host) or the server */
  source: z.enum(['server', 'gpu', 'docker', 'host']),
  status: z.enum(['ok', 'warn', 'fail', 'off']),
  message: z.string(),
  fix: z.string().optional(),
}).meta({ id: 'DoctorCheck' });
export type DoctorCheck = z.infer<typeof DoctorCheckSchema>;
export const DoctorResponseSchema = z.object({ checks: z.array(DoctorCheckSchema) });
export type DoctorResponse = z.infer<typeof DoctorResponseSchema>;
export const DoctorQuerySchema = z.strictObject({ ...TOKEN_QUERY, source: z.enum(['server', 'gpu', 'docker', 'host']).optional() });

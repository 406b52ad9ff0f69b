/** Hints: advice derived from the snapshot and the scheduler's state, pushed as `hint` events. */
import { z } from 'zod';

export const HintKindSchema = z.enum(['fragmentation', 'unmanaged_gpu_use', 'lease_expiring', 'long_wait', 'strategy_suggestion']);
export type HintKind = z.infer<typeof HintKindSchema>;

export const HintSubjectSchema = z.object({
  kind: z.enum(['request', 'allocation', 'gpu', 'container', 'strategy']),
  id: z.string(),
});

export const HintSchema = z.object({
  id: z.string(),
  kind: HintKindSchema,
  /** 1 (information) – 5 (act now) */
  severity: z.int().min(1).max(5),
  title: z.string(),
  message: z.string(),
  subject: HintSubjectSchema,
  createdAt: z.number(),
  /** while its cause persists the hint stays active and is not repeated; it is cleared when the cause goes */
  status: z.enum(['active', 'cleared']),
  clearedAt: z.number().optional(),
}).meta({ id: 'Hint' });
export type Hint = z.infer<typeof HintSchema>;

/** The `data` of a `hint` event. */
export const HintEventSchema = z.object({ kind: z.enum(['hint_raised', 'hint_cleared']), hint: HintSchema });
export type HintEvent = z.infer<typeof HintEventSchema>;

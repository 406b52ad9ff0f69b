/**
 * What a workflow's or a job's state allows, for the view. Kept out of the store (which the main bundle carries):
 * the lazily loaded view imports nothing at run time from the store's module.
 */
import type { JobStatus, WorkflowSummary } from '../../../shared/workflows.ts';

/** States a job does not leave by itself (a retry of the workflow runs the failed and skipped ones again). */
const ENDED_JOB: ReadonlySet<JobStatus> = new Set<JobStatus>(['SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELLED']);
export const jobEnded = (s: JobStatus): boolean => ENDED_JOB.has(s);

/** A job waiting for its parents, its run or its grant: no output yet. */
export const jobWaiting = (s: JobStatus): boolean => s === 'PENDING' || s === 'READY' || s === 'QUEUED';

/** Jobs still to run: it can be cancelled. */
export const canCancel = (w: WorkflowSummary): boolean => w.status === 'PENDING' || w.status === 'RUNNING';

/** Failed or skipped jobs, and not cancelled: it can be retried. */
export const canRetry = (w: WorkflowSummary): boolean => w.status !== 'CANCELLED' && ((w.counts.FAILED ?? 0) > 0 || (w.counts.SKIPPED ?? 0) > 0);

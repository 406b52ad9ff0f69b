/** A workflow's and a job's state as a coloured badge, and a workflow's jobs per state. */
import type { JobStatus, WorkflowStatus } from '../../../shared/workflows.ts';
import { JOB_STATUSES } from '../../../shared/names.ts';
import { formatClock } from '../lib/format.ts';

export function StatusBadge({ status, testId }: { status: WorkflowStatus | JobStatus; testId?: string }) {
  return (
    <span className={`job-status status-${status.toLowerCase()}`} data-testid={testId} data-status={status}>
      {status}
    </span>
  );
}

/** Jobs per state, in the order of JOB_STATUSES; states with none left out. */
export function JobCounts({ counts }: { counts: Partial<Record<JobStatus, number>> }) {
  return (
    <ul className="state-counts" aria-label="Jobs by state" data-testid="job-counts">
      {JOB_STATUSES.filter((s) => (counts[s] ?? 0) > 0).map((s) => (
        <li key={s}>
          <span className={`job-status status-${s.toLowerCase()}`} data-testid="job-count" data-status={s}>
            <span className="num">{counts[s]}</span> {s}
          </span>
        </li>
      ))}
    </ul>
  );
}

/** An ISO time: the clock time when it is today, else the day too; the full time on hover; `—` without one. */
export function When({ iso, testId }: { iso: string | null; testId?: string }) {
  const t = iso === null ? NaN : Date.parse(iso);
  if (Number.isNaN(t)) return <span className="muted">—</span>;
  const d = new Date(t);
  const today = d.toDateString() === new Date().toDateString();
  const text = today ? formatClock(t) : `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${formatClock(t)}`;
  return (
    <time dateTime={iso!} title={d.toLocaleString()} className="num" data-testid={testId}>
      {text}
    </time>
  );
}

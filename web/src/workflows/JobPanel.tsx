import { useEffect, useId, useMemo, useRef, type KeyboardEvent, type ReactNode } from 'react';
import type { Job } from '../../../shared/workflows.ts';
import { TimeSince } from '../components/Countdown.tsx';
import { anchor } from '../feed/subject.ts';
import { formatDuration, formatResources } from '../lib/format.ts';
import { Link } from '../lib/router.ts';
import { LogsPanel } from '../workers/LogsPanel.tsx';
import { StatusBadge, When } from './badges.tsx';
import { jobEnded, jobWaiting } from './states.ts';
import type { JobShape } from './store.ts';

interface JobPanelProps {
  job: Job;
  jobs: readonly Job[];
  shape: readonly JobShape[];
  /** the panel's element id */
  id: string;
  onSelect(index: number): void;
  onClose(): void;
}

/**
 * One job of the open workflow: its state and why, its branch (and the job of it that runs before), its times, exit
 * code and runs, what it asks for and runs, its request, allocation and worker (linked into their views), its parents
 * and children, and its output — its worker's
 * (read from the worker's logs) when it has one, else the last lines kept with the job. Escape or Close closes it.
 */
export function JobPanel({ job: j, jobs, shape, id, onSelect, onClose }: JobPanelProps) {
  const headingId = useId();
  const ref = useRef<HTMLElement>(null);
  // a job opened from the DAG: the keyboard continues in its panel
  useEffect(() => ref.current?.focus(), [j.index]);
  const children = useMemo(() => shape.flatMap((s, i) => (s.parents.includes(j.index) ? [i] : [])), [shape, j.index]);
  const after = j.branch_after;
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      onClose();
    }
  };
  return (
    <section ref={ref} tabIndex={-1} className="panel job-panel" id={id} aria-labelledby={headingId} onKeyDown={onKeyDown} data-testid="job-panel" data-index={j.index}>
      <header className="panel-head">
        <h3 id={headingId} className="job-panel-title">
          <span className="visually-hidden">Job </span>
          {j.name}
        </h3>
        <StatusBadge status={j.status} testId="job-status" />
        <button type="button" onClick={onClose} data-testid="job-close">
          Close
        </button>
      </header>
      {j.why ? (
        <p className={`worker-why why-${whyTone(j)}`} data-testid="job-why">
          <span className="visually-hidden">Why it is {j.status}: </span>
          {j.why}
        </p>
      ) : null}
      <dl className="job-facts">
        <Fact label="Type">
          {j.job_type}
          {j.manual ? <span className="tag">manual</span> : null}
        </Fact>
        <Fact label="Branch" testId="job-branch">
          {String(j.branch_id)}
          {after !== null ? (
            <>
              {' '}
              <span className="muted">· runs after</span> <JobLinks indices={[after]} jobs={jobs} onSelect={onSelect} />
            </>
          ) : null}
        </Fact>
        <Fact label="Runs" testId="job-runs">
          {j.attempts} of {j.retries + 1}
          {j.retries > 0 ? <span className="muted"> ({j.retries} retr{j.retries === 1 ? 'y' : 'ies'})</span> : null}
        </Fact>
        <Fact label="Exit code" testId="job-exit">
          {j.exit_code ?? '—'}
        </Fact>
        <Fact label="Ready">
          <When iso={j.ready_at} />
        </Fact>
        <Fact label="Started">
          <When iso={j.started_at} />
        </Fact>
        <Fact label="Ended">
          <When iso={j.ended_at} />
        </Fact>
        <Fact label="Ran for">{ranFor(j)}</Fact>
        {j.resources ? <Fact label="Asks for">{formatResources({ ...j.resources, gpuMemMiB: j.resources.gpuMemoryMiB })}</Fact> : null}
        {j.timeoutMs !== null ? <Fact label="Timeout">{formatDuration(j.timeoutMs)}</Fact> : null}
        {j.run ? (
          <Fact label="Command" testId="job-cmd">
            <code className="job-cmd">{Array.isArray(j.run.cmd) ? j.run.cmd.join(' ') : j.run.cmd}</code>
            <span className="muted">
              {' '}
              {j.run.backend ?? 'local'}
              {j.run.container_image ? ` · ${j.run.container_image}` : ''}
              {j.run.env_names.length ? ` · env ${j.run.env_names.join(', ')}` : ''}
            </span>
          </Fact>
        ) : null}
        <Fact label="Request" testId="job-request">
          {j.request_id === null ? '—' : j.status === 'QUEUED' ? <Link to={`/scheduler#${anchor.request(j.request_id)}`}>{j.request_id}</Link> : <code>{j.request_id}</code>}
        </Fact>
        <Fact label="Allocation" testId="job-allocation">
          {j.allocation_id === null ? '—' : j.status === 'RUNNING' ? <Link to={`/scheduler#${anchor.allocation(j.allocation_id)}`}>{j.allocation_id}</Link> : <code>{j.allocation_id}</code>}
        </Fact>
        <Fact label="Worker" testId="job-worker">
          {j.worker_id === null ? '—' : <Link to={`/workers#${anchor.worker(j.worker_id)}`}>{j.worker_id}</Link>}
        </Fact>
        <Fact label="Parents">
          <JobLinks indices={j.parent_indices} jobs={jobs} onSelect={onSelect} />
        </Fact>
        <Fact label="Children">
          <JobLinks indices={children} jobs={jobs} onSelect={onSelect} />
        </Fact>
      </dl>
      {j.result !== undefined ? (
        <>
          <h4 className="sub-head">Result</h4>
          <pre className="log-lines" data-testid="job-result">
            {JSON.stringify(j.result, null, 2)}
          </pre>
        </>
      ) : null}
      <JobOutput job={j} />
    </section>
  );
}

/** Its worker's output when it has one (with the lines kept with the job below, for a worker since removed). */
function JobOutput({ job: j }: { job: Job }) {
  const waiting = jobWaiting(j.status);
  const tail = j.log_tail.length ? (
    <pre className="log-lines" tabIndex={0} aria-label={`Last lines of ${j.name}`} data-testid="job-log-tail">
      {j.log_tail.join('\n')}
    </pre>
  ) : null;
  if (j.worker_id) {
    return (
      <>
        <LogsPanel key={j.worker_id} workerId={j.worker_id} live={!jobEnded(j.status)} waiting={waiting} id={`job-logs-${j.index}`} />
        {tail ? (
          <details className="job-tail">
            <summary>The last lines kept with the job</summary>
            {tail}
          </details>
        ) : null}
      </>
    );
  }
  return (
    <div className="job-output">
      <h4 className="sub-head">Output</h4>
      {tail ?? (
        <p className="muted" data-testid="job-no-output">
          {j.manual ? 'A manual job runs nothing here: its result is posted to the API.' : waiting ? 'No output: it has not run.' : 'No output.'}
        </p>
      )}
    </div>
  );
}

function JobLinks({ indices, jobs, onSelect }: { indices: readonly number[]; jobs: readonly Job[]; onSelect(index: number): void }) {
  if (indices.length === 0) return <span className="muted">none</span>;
  return (
    <ul className="job-links">
      {indices.map((i) => (
        <li key={i}>
          <button type="button" className="link-button" onClick={() => onSelect(i)}>
            {jobs[i]?.name ?? `#${i}`}
          </button>
        </li>
      ))}
    </ul>
  );
}

function Fact({ label, testId, children }: { label: string; testId?: string; children: ReactNode }) {
  return (
    <div className="job-fact">
      <dt>{label}</dt>
      <dd data-testid={testId}>{children}</dd>
    </div>
  );
}

/** How long its last run took, or has been running (ticking). */
function ranFor(j: Job): ReactNode {
  const a = j.started_at === null ? NaN : Date.parse(j.started_at);
  const b = j.ended_at === null ? NaN : Date.parse(j.ended_at);
  if (Number.isNaN(a)) return '—';
  if (!Number.isNaN(b)) return <span className="num">{formatDuration(b - a)}</span>;
  return j.status === 'RUNNING' ? (
    <>
      <TimeSince since={a} /> so far
    </>
  ) : (
    '—'
  );
}

function whyTone(j: Job): 'wait' | 'bad' | 'info' {
  if (j.status === 'FAILED') return 'bad';
  if (jobWaiting(j.status)) return 'wait';
  return 'info';
}

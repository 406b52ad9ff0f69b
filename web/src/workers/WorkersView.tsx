import { memo, useCallback, useEffect, useId, useRef, useState } from 'react';
import type { Worker, WorkerState } from '../../../shared/workers.ts';
import { TimeSince } from '../components/Countdown.tsx';
import { anchor, short } from '../feed/subject.ts';
import { formatClock } from '../lib/format.ts';
import { Link } from '../lib/router.ts';
import { useWorkers, useWorkersContext } from './hooks.ts';
import { LogsPanel } from './LogsPanel.tsx';
import { hasEnded, type GroupView } from './store.ts';
import { ReadError } from '../components/ReadError.tsx';

/** columns of a replica's row (the why line spans them) */
const COLUMNS = 9;

/**
 * Workers: each group (owner, backend, replicas per state, Delete) with its replicas — state, GPUs, where it listens,
 * its engine, when it started, its exit code, its allocation or request in the Scheduler view, and why it is not
 * running; a replica's output on click. Groups whose replicas have all ended are listed, collapsed, below. Live:
 * pushed worker changes update it in place.
 */
export function WorkersView() {
  const { store } = useWorkersContext();
  const snap = useWorkers();
  useEffect(() => store.watch(), [store]);
  /** the worker whose output is shown */
  const [logsOf, setLogsOf] = useState<string | null>(null);
  const toggleLogs = useCallback((id: string) => setLogsOf((cur) => (cur === id ? null : id)), []);
  const closeLogs = useCallback(() => {
    setLogsOf((cur) => {
      // back to the button that opened it
      if (cur !== null) queueMicrotask(() => document.getElementById(logsButtonId(cur))?.focus());
      return null;
    });
  }, []);
  const empty = snap.live.length === 0 && snap.ended.length === 0;
  return (
    <div className="view grid workers-view">
      {snap.error ? (
        <ReadError what="The workers" error={snap.error} onRetry={() => store.refresh()} testId="workers-error" />
      ) : null}
      {empty ? (
        <section className="panel panel-wide" data-testid="workers-empty">
          <h2 className="visually-hidden">Workers</h2>
          <p className={snap.ready ? 'muted' : 'waiting'}>
            {snap.ready ? (
              <>
                No workers yet. A group of replicas starts with <code>POST /api/workers {'{name, replicas, specs: [{cpu, gpu, mem, cmd}]}'}</code> (or{' '}
                <code>create_workers</code> of the clients in <code>clients/</code>); each replica runs once the scheduler grants its resources.
              </>
            ) : (
              'loading workers…'
            )}
          </p>
        </section>
      ) : null}
      {snap.live.map((g) => (
        <GroupPanel key={g.name} group={g} level={2} logsOf={logsOf} onLogs={toggleLogs} onCloseLogs={closeLogs} />
      ))}
      {snap.ended.length > 0 ? (
        <details className="panel panel-wide ended-groups" data-testid="ended-groups">
          <summary>
            <h2>Ended groups</h2>
            <span className="count num" aria-label={`${snap.ended.length} ended`}>
              {snap.ended.length}
            </span>
            <span className="muted ended-note">every replica stopped, exited or failed</span>
          </summary>
          {snap.ended.map((g) => (
            <GroupPanel key={g.name} group={g} level={3} logsOf={logsOf} onLogs={toggleLogs} onCloseLogs={closeLogs} />
          ))}
        </details>
      ) : null}
    </div>
  );
}

const logsButtonId = (workerId: string) => `logs-button-${workerId}`;
const logsPanelId = (workerId: string) => `logs-${workerId}`;

interface GroupProps {
  group: GroupView;
  level: 2 | 3;
  logsOf: string | null;
  onLogs(id: string): void;
  onCloseLogs(): void;
}

const GroupPanel = memo(function GroupPanel({ group: g, level, logsOf, onLogs, onCloseLogs }: GroupProps) {
  const id = useId();
  const H = level === 2 ? 'h2' : 'h3';
  const shownLogs = logsOf === null ? undefined : g.workers.find((w) => w.id === logsOf);
  return (
    <section
      className={level === 2 ? 'panel panel-wide worker-group' : 'worker-group worker-group-ended'}
      id={anchor.workerGroup(g.name)}
      aria-labelledby={id}
      data-testid="worker-group"
      data-group={g.name}
      data-live={g.live}
    >
      <header className="panel-head worker-group-head">
        <H id={id} className="worker-group-title">
          <span className="visually-hidden">Group </span>
          <span className="group-name">{g.name}</span>
        </H>
        <span className="muted group-facts" data-testid="group-facts">
          {g.owner} · {g.backend} · {g.workers.length} replica{g.workers.length === 1 ? '' : 's'}
        </span>
        <ul className="state-counts" aria-label="Replicas by state" data-testid="group-counts">
          {g.counts.map((c) => (
            <li key={c.state}>
              <span className={`state-badge state-${c.state}`} data-testid="group-count" data-state={c.state}>
                {c.n} {c.state}
              </span>
            </li>
          ))}
        </ul>
        {g.live ? <DeleteGroup group={g} /> : null}
      </header>
      {g.deleteError ? (
        <p className="row-problem group-problem" role="alert" data-testid="delete-error">
          Could not delete {g.name}: {g.deleteError}
        </p>
      ) : null}
      <div className="table-scroll">
        <table className="data-table workers-table">
          <caption className="visually-hidden">Replicas of worker group {g.name}</caption>
          <thead>
            <tr>
              <th scope="col" className="col-replica">Replica</th>
              <th scope="col" className="col-state">State</th>
              <th scope="col" className="col-gpus">GPUs</th>
              <th scope="col" className="col-addr">Address</th>
              <th scope="col" className="col-engine">Engine</th>
              <th scope="col" className="col-started num">Started</th>
              <th scope="col" className="col-exit num">Exit</th>
              <th scope="col" className="col-sched">Scheduler</th>
              <th scope="col" className="col-actions">
                <span className="visually-hidden">Output</span>
              </th>
            </tr>
          </thead>
          {g.workers.map((w) => (
            <WorkerRows key={w.id} worker={w} logsOpen={logsOf === w.id} onLogs={onLogs} />
          ))}
        </table>
      </div>
      {shownLogs ? (
        <LogsPanel workerId={shownLogs.id} live={!hasEnded(shownLogs)} waiting={shownLogs.state === 'queued'} id={logsPanelId(shownLogs.id)} onClose={onCloseLogs} />
      ) : null}
    </section>
  );
});

/** Delete, confirmed inline; progress (replicas ended of all) while the server stops them. */
function DeleteGroup({ group: g }: { group: GroupView }) {
  const { store } = useWorkersContext();
  const [confirming, setConfirming] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const deleteRef = useRef<HTMLButtonElement>(null);
  const wasConfirming = useRef(false);
  useEffect(() => {
    if (confirming) confirmRef.current?.focus();
    else if (wasConfirming.current) deleteRef.current?.focus();
    wasConfirming.current = confirming;
  }, [confirming]);
  const live = g.workers.length - g.ended;
  if (g.deleting) {
    return (
      <span className="delete-progress" role="status" data-testid="delete-progress">
        <button type="button" className="danger" disabled data-testid="delete-group">
          Deleting…
        </button>{' '}
        <span className="muted num">
          {g.ended} of {g.workers.length} ended
        </span>
      </span>
    );
  }
  if (confirming) {
    return (
      <div
        className="confirm-delete"
        role="group"
        aria-label={`Delete group ${g.name}?`}
        data-testid="delete-confirmation"
        onKeyDown={(e) => {
          if (e.key === 'Escape') setConfirming(false);
        }}
      >
        <span>
          Stop {live === 1 ? 'its live replica' : `its ${live} live replicas`} and delete <strong>{g.name}</strong>?
        </span>
        <button
          type="button"
          className="danger"
          ref={confirmRef}
          data-testid="delete-confirm"
          onClick={() => {
            setConfirming(false);
            void store.deleteGroup(g.name);
          }}
        >
          Delete
        </button>
        <button type="button" onClick={() => setConfirming(false)} data-testid="delete-cancel">
          Keep
        </button>
      </div>
    );
  }
  return (
    <button type="button" className="danger" ref={deleteRef} onClick={() => setConfirming(true)} aria-label={`Delete group ${g.name}`} data-testid="delete-group">
      Delete
    </button>
  );
}

/** One replica: its row, and a line saying why it is not running. */
const WorkerRows = memo(function WorkerRows({ worker: w, logsOpen, onLogs }: { worker: Worker; logsOpen: boolean; onLogs(id: string): void }) {
  const ended = hasEnded(w);
  return (
    <tbody id={anchor.worker(w.id)} tabIndex={-1} className={`worker-rows state-${w.state}`} data-testid="worker" data-worker-id={w.id} data-state={w.state}>
      <tr>
        <th scope="row" className="col-replica">
          <span className="num">#{w.replica}</span> <span className="muted worker-id">{w.id}</span>
        </th>
        <td className="col-state">
          <span className={`state-badge state-${w.state}`} data-testid="worker-state">
            {w.state}
          </span>
        </td>
        <td className={cls('col-gpus', w.gpus.length === 0)} data-testid="worker-gpus">
          {w.gpus.length === 0 ? (
            <span className="muted">{ended || w.state === 'queued' ? '—' : 'none'}</span>
          ) : (
            <ul className="gpu-chips" aria-label="GPUs">
              {w.gpus.map((i) => (
                <li key={i}>
                  <Link to={`/gpus#${anchor.gpu(i)}`} className="gpu-chip" title={`GPU ${i}`}>
                    GPU {i}
                  </Link>
                </li>
              ))}
            </ul>
          )}
        </td>
        <td className={cls('col-addr num', w.port === null)} data-testid="worker-address">
          {w.port === null ? <span className="muted">—</span> : `${w.host}:${w.port}`}
        </td>
        <td className={cls('col-engine', !w.engine)} data-testid="worker-engine">
          {w.engine ? <code title={w.engine}>{w.engine}</code> : <span className="muted">—</span>}
        </td>
        <td className={cls('col-started num', w.started_at === null)} data-testid="worker-started">
          {w.started_at === null ? (
            <span className="muted">—</span>
          ) : (
            <span title={`started at ${formatClock(w.started_at)}`}>
              <TimeSince since={w.started_at} /> ago
            </span>
          )}
        </td>
        <td className={cls('col-exit num', w.exit_code === null)} data-testid="worker-exit">
          {w.exit_code === null ? <span className="muted">—</span> : w.exit_code}
        </td>
        <td className="col-sched" data-testid="worker-sched">
          <SchedulerLink worker={w} />
        </td>
        <td className="col-actions">
          <button
            type="button"
            id={logsButtonId(w.id)}
            aria-expanded={logsOpen}
            aria-controls={logsOpen ? logsPanelId(w.id) : undefined}
            onClick={() => onLogs(w.id)}
            data-testid="worker-logs-button"
          >
            {logsOpen ? 'Hide output' : 'Output'}
            <span className="visually-hidden"> of {w.id}</span>
          </button>
        </td>
      </tr>
      {w.state !== 'running' && w.why ? (
        <tr className="why-row">
          <td colSpan={COLUMNS}>
            <p className={`worker-why why-${whyTone(w.state)}`} data-testid="worker-why">
              <span className="visually-hidden">Why it is {w.state}: </span>
              {w.why}
            </p>
          </td>
        </tr>
      ) : null}
    </tbody>
  );
});

/** A live worker's allocation, a queued one's request, in the Scheduler view. */
function SchedulerLink({ worker: w }: { worker: Worker }) {
  if (!hasEnded(w) && w.allocation_id) {
    return (
      <Link to={`/scheduler#${anchor.allocation(w.allocation_id)}`} title={`allocation ${w.allocation_id}`} data-testid="worker-allocation">
        allocation {short(w.allocation_id)}
      </Link>
    );
  }
  if (w.state === 'queued' && w.request_id) {
    return (
      <Link to={`/scheduler#${anchor.request(w.request_id)}`} title={`request ${w.request_id}, waiting in the queue`} data-testid="worker-request">
        request {short(w.request_id)}
      </Link>
    );
  }
  if (w.allocation_id) {
    return (
      <span className="muted" title={`allocation ${w.allocation_id} (ended)`}>
        allocation {short(w.allocation_id)}
      </span>
    );
  }
  return <span className="muted">—</span>;
}

/** a cell's classes; `empty`: it shows only a dash (left out of the phone layout) */
function cls(base: string, empty: boolean): string {
  return empty ? `${base} cell-empty` : base;
}

function whyTone(state: WorkerState): 'wait' | 'bad' | 'info' {
  if (state === 'failed') return 'bad';
  if (state === 'queued' || state === 'suspended' || state === 'preempted') return 'wait';
  return 'info';
}

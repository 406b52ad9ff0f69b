import { memo, useId, useState } from 'react';
import { STRATEGY_NAMES } from '../../../shared/names.ts';
import type { Conflict, ConflictType, QueueOrder, Request, StrategyName } from '../../../shared/scheduler.ts';
import { TimeSince } from '../components/Countdown.tsx';
import { anchor, conflictSubject, subjectLabel, subjectPath } from '../feed/subject.ts';
import { errorMessage } from '../lib/api.ts';
import { formatClock, formatResources, strategyLabel } from '../lib/format.ts';
import { Link } from '../lib/router.ts';
import type { SchedulerApi } from './api.ts';
import { useScheduler, useSchedulerApi } from './hooks.ts';
import { useQueueOrder } from './useQueueOrder.ts';

export const CONFLICT_TYPE_LABEL: Record<ConflictType, string> = {
  resource_competition: 'resource competition',
  priority_conflict: 'priority conflict',
  schedule_conflict: 'schedule conflict',
};

/** Severity 1–5 as a number and a colour (never colour alone). */
export function Severity({ value }: { value: number }) {
  return (
    <span className={`sev sev-${Math.min(5, Math.max(1, value))}`} title={`severity ${value} of 5`} data-testid="severity">
      {value}
    </span>
  );
}

/** FIFO or priority: the two orders of GET /api/queue. */
export function OrderToggle({ order, onChange }: { order: QueueOrder; onChange(o: QueueOrder): void }) {
  return (
    <div className="segmented" role="group" aria-label="Queue order" data-testid="order-toggle">
      <button type="button" aria-pressed={order === 'fifo'} onClick={() => onChange('fifo')} title="arrival order">
        FIFO
      </button>
      <button type="button" aria-pressed={order === 'priority'} onClick={() => onChange('priority')} title="severity, then effective priority, then age">
        Priority
      </button>
    </div>
  );
}

/** The conflict queue: every waiting request with its conflict, and the other open conflicts. */
export function QueuePanel() {
  const id = useId();
  const sched = useScheduler();
  const api = useSchedulerApi();
  const [order, setOrder] = useState<QueueOrder>('fifo');
  const { rows, pending, error } = useQueueOrder(order, sched, api);
  const waitingIds = new Set(sched.queue.map((r) => r.id));
  const others = sched.conflicts.filter((c) => c.requestId === null || !waitingIds.has(c.requestId) || c.key !== `request:${c.requestId}`);
  const othersSorted = order === 'priority' ? [...others].sort((a, b) => b.severity - a.severity || a.openedAt - b.openedAt) : others;
  return (
    <section className="panel panel-wide queue-panel" id="conflicts" tabIndex={-1} aria-labelledby={id} data-testid="queue">
      <header className="panel-head">
        <h2 id={id}>Conflict queue</h2>
        <span className="muted num" data-testid="queue-count">
          {sched.ready ? `${sched.queue.length} waiting · ${sched.conflicts.length} open conflict${sched.conflicts.length === 1 ? '' : 's'}` : 'loading…'}
        </span>
        <OrderToggle order={order} onChange={setOrder} />
      </header>
      {sched.error ? (
        <p className="notice notice-bad" role="alert">
          The scheduler's state could not be read: {sched.error}
        </p>
      ) : null}
      {error ? <p className="notice notice-bad">The queue order could not be read: {error}</p> : null}
      {rows.length === 0 ? (
        <p className="muted queue-empty" data-testid="queue-empty">
          {sched.ready ? 'Nothing waits: every request so far fitted.' : 'waiting for the scheduler…'}
        </p>
      ) : (
        <div className="table-scroll">
          <table className="data-table queue-table" aria-busy={pending} data-order={order}>
            <caption className="visually-hidden">Waiting requests in {order === 'fifo' ? 'arrival' : 'priority'} order</caption>
            <thead>
              <tr>
                <th scope="col" className="num col-pos">#</th>
                <th scope="col">Owner</th>
                <th scope="col">Resources</th>
                <th scope="col" className="num col-prio">Priority</th>
                <th scope="col" className="num col-wait">Waiting</th>
                <th scope="col">Conflict</th>
                <th scope="col" className="col-actions">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r, i) => (
                <QueueRow key={r.id} position={i + 1} request={r} conflict={sched.conflictByRequest.get(r.id) ?? null} api={api} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {othersSorted.length > 0 ? (
        <>
          <h3 className="sub-head">Other open conflicts</h3>
          <ul className="other-conflicts">
            {othersSorted.map((c) => (
              <OtherConflict key={c.id} conflict={c} />
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}

const QueueRow = memo(function QueueRow({ position, request: r, conflict, api }: { position: number; request: Request; conflict: Conflict | null; api: SchedulerApi }) {
  const [busy, setBusy] = useState<'resolve' | 'cancel' | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [using, setUsing] = useState<StrategyName | ''>('');
  const [note, setNote] = useState<string | null>(null);
  const act = (what: 'resolve' | 'cancel') => {
    setBusy(what);
    setProblem(null);
    setNote(null);
    const done = () => setBusy(null);
    const failed = (err: unknown) => {
      setBusy(null);
      setProblem(errorMessage(err));
    };
    if (what === 'cancel') {
      api.cancel(r.id).then(done, failed);
      return;
    }
    api.resolve(conflict!.id, using || undefined).then((out) => {
      done();
      // the strategy gave holders notice: the grant follows when their grace period ends
      if (out.action === 'preempting') setNote(`preempting its holders${out.resolvesAt ? `; granted at ${formatClock(out.resolvesAt)}` : ''}`);
    }, failed);
  };
  const holders = conflict?.holders.map((h) => (h.kind === 'allocation' ? `${h.owner} (GPU ${h.gpuIndices.join(', ') || '–'})` : `${h.name}${h.pid !== null ? ` pid ${h.pid}` : ''} on GPU ${h.gpuIndex}`));
  return (
    <tr id={anchor.request(r.id)} tabIndex={-1} data-testid="queue-row" data-request-id={r.id} data-owner={r.owner}>
      <td className="num col-pos">{position}</td>
      <th scope="row" className="col-owner">
        {r.owner}
        {r.group ? <span className="muted"> · {r.group}</span> : null}
        {r.preemptible ? <span className="tag" title="may be preempted">preemptible</span> : null}
      </th>
      <td className="col-res">{formatResources(r.resources)}</td>
      <td className="num col-prio">{r.priority}</td>
      <td className="num col-wait">
        <TimeSince since={r.submittedAt} testId="queue-wait" />
      </td>
      <td className="col-conflict">
        {conflict ? (
          <span className="conflict-cell" title={conflict.message}>
            <Severity value={conflict.severity} /> {CONFLICT_TYPE_LABEL[conflict.type]}
            <span className="muted conflict-why">
              {' '}
              · {conflict.resource}
              {holders && holders.length ? ` · held by ${holders.join(', ')}` : ''}
            </span>
          </span>
        ) : (
          <span className="muted">waiting for the next decision</span>
        )}
        {problem ? (
          <span className="row-problem" role="alert">
            {problem}
          </span>
        ) : null}
        {note ? (
          <span className="row-note" role="status">
            {note}
          </span>
        ) : null}
      </td>
      <td className="col-actions">
        <div className="row-actions">
          {conflict ? (
            <>
              <select aria-label="Resolve with strategy" value={using} onChange={(e) => setUsing(e.target.value as StrategyName | '')} className="resolve-with">
                <option value="">current strategy</option>
                {STRATEGY_NAMES.map((s) => (
                  <option key={s} value={s}>
                    {strategyLabel(s)}
                  </option>
                ))}
              </select>
              <button type="button" disabled={busy !== null} onClick={() => act('resolve')} data-testid="resolve">
                {busy === 'resolve' ? 'Resolving…' : 'Resolve'}
              </button>
            </>
          ) : null}
          <button type="button" className="danger" disabled={busy !== null} onClick={() => act('cancel')} data-testid="cancel">
            {busy === 'cancel' ? 'Cancelling…' : 'Cancel'}
          </button>
        </div>
      </td>
    </tr>
  );
});

function OtherConflict({ conflict: c }: { conflict: Conflict }) {
  const subject = conflictSubject(c);
  return (
    <li id={anchor.conflict(c.id)} className="other-conflict" data-testid="other-conflict" data-type={c.type}>
      <Severity value={c.severity} />
      <span className="other-type">{CONFLICT_TYPE_LABEL[c.type]}</span>
      <span className="other-message">{c.message}</span>
      <span className="muted num">
        open <TimeSince since={c.openedAt} />
      </span>
      {subject ? <Link to={subjectPath(subject)}>{subjectLabel(subject)}</Link> : null}
    </li>
  );
}

import { memo, useEffect, useId, useState } from 'react';
import type { DispatchTask, TaskInstance } from '../../../shared/dispatch.ts';
import { formatClock, formatSeconds } from '../lib/format.ts';
import { PolicySwitch } from './PolicySwitch.tsx';
import { useTasks, useTasksStore } from './hooks.ts';
import type { InstanceView, ModelView } from './store.ts';
import { WaitBar } from './WaitBar.tsx';
import { ReadError } from '../components/ReadError.tsx';

/** tasks shown per model before "show all" */
const TASKS_SHOWN = 10;

/**
 * Task dispatch: the routing policy and its switch; per model, its instances with their state, health and expected
 * wait ± error, tasks per second, and its recent tasks with status and times. Live: pushed task and instance
 * changes update it in place.
 */
export function TasksView() {
  const store = useTasksStore();
  const snap = useTasks();
  useEffect(() => store.watch(), [store]);
  const windowSec = Math.round(snap.windowMs / 1000);
  return (
    <div className="view grid tasks-view">
      <PolicySwitch policy={snap.policy} since={snap.policySince} customPolicy={snap.customPolicy} />
      {snap.error ? (
        <ReadError what="Task dispatch" error={snap.error} onRetry={() => store.refresh()} testId="tasks-error" />
      ) : null}
      {snap.waitsError ? (
        <p className="notice notice-warn panel-wide" data-testid="waits-error">
          The expected waits could not be read: {snap.waitsError}
        </p>
      ) : null}
      {snap.models.length === 0 ? (
        <section className="panel panel-wide" data-testid="tasks-empty">
          <p className={snap.ready ? 'muted' : 'waiting'}>
            {snap.ready ? (
              <>
                No task instance and no task yet. An instance registers with <code>POST /ti/register</code> (or{' '}
                <code>arbiter instance --register</code>); tasks come with <code>POST /queue/submit</code>.
              </>
            ) : (
              'loading task dispatch…'
            )}
          </p>
        </section>
      ) : (
        snap.models.map((m) => <ModelPanel key={m.model} view={m} instances={snap.instances} windowSec={windowSec} countingSince={snap.countingSince} />)
      )}
    </div>
  );
}

const ModelPanel = memo(function ModelPanel({
  view: m, instances, windowSec, countingSince,
}: { view: ModelView; instances: ReadonlyMap<string, TaskInstance>; windowSec: number; countingSince: number | null }) {
  const id = useId();
  const [all, setAll] = useState(false);
  const shown = all ? m.tasks : m.tasks.slice(0, TASKS_SHOWN);
  return (
    <section className="panel panel-wide model-panel" aria-labelledby={id} data-testid="model" data-model={m.model}>
      <header className="panel-head">
        <h2 id={id}>
          Model <span className="model-name">{m.model}</span>
        </h2>
        <span className="muted num" data-testid="model-rate" title={`tasks completed in the last ${windowSec} s, per second`}>
          <strong className="rate" data-testid="tasks-per-sec">
            {m.tasksPerSec.toFixed(2)}
          </strong>{' '}
          tasks/s · {m.completed} completed in the last {windowSec} s
          {countingSince !== null ? <span data-testid="counting-since"> (counting since {formatClock(countingSince)})</span> : null}
        </span>
      </header>
      {m.instances.length === 0 ? (
        <p className="notice notice-warn" data-testid="no-instance">
          No instance serves this model: its tasks wait until one registers.
        </p>
      ) : (
        <InstancesTable model={m.model} rows={m.instances} scaleSec={m.waitScaleSec} />
      )}
      <h3 className="sub-head">Recent tasks</h3>
      {m.tasks.length === 0 ? (
        <p className="muted" data-testid="no-tasks">
          No task for this model yet.
        </p>
      ) : (
        <>
          <div className="table-scroll">
            <table className="data-table tasks-table">
              <caption className="visually-hidden">Recent tasks of model {m.model}, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Task</th>
                  <th scope="col">Status</th>
                  <th scope="col">Instance</th>
                  <th scope="col" className="num">Submitted</th>
                  <th scope="col" className="num">Queue</th>
                  <th scope="col" className="num">Execution</th>
                  <th scope="col" className="num">Total</th>
                  <th scope="col">Notes</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((t) => (
                  <TaskRow key={t.id} task={t} instance={t.instance === null ? null : (instances.get(t.instance) ?? null)} />
                ))}
              </tbody>
            </table>
          </div>
          {m.tasks.length > TASKS_SHOWN ? (
            <button type="button" className="link-button panel-more-button" aria-expanded={all} onClick={() => setAll(!all)} data-testid="tasks-more">
              {all ? `Show the newest ${TASKS_SHOWN}` : `Show all ${m.tasks.length}`}
            </button>
          ) : null}
        </>
      )}
    </section>
  );
});

function InstancesTable({ model, rows, scaleSec }: { model: string; rows: readonly InstanceView[]; scaleSec: number }) {
  return (
    <div className="table-scroll">
      <table className="data-table instances-table">
        <caption className="visually-hidden">Task instances of model {model}, with their expected wait for a task sent now</caption>
        <thead>
          <tr>
            <th scope="col">Instance</th>
            <th scope="col">State</th>
            <th scope="col">Health</th>
            <th scope="col" className="num col-weight">Weight</th>
            <th scope="col" className="col-expected">Expected wait ± error</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ instance: i, wait }) => (
            <tr key={i.id} data-testid="instance-row" data-instance-id={i.id} data-state={i.state} className={i.state === 'down' ? 'instance-down' : undefined}>
              <th scope="row">
                <span className="num">
                  {i.host}:{i.port}
                </span>
                <span className="muted instance-id" title={i.id}>
                  {' '}
                  {shortId(i.id)}
                </span>
              </th>
              <td>
                <span className={`inst-state inst-${i.state}`} data-testid="instance-state">
                  {i.state}
                </span>
                {i.failures > 0 ? <span className="muted num"> · {i.failures} failed</span> : null}
              </td>
              <td className="col-health" data-testid="instance-health">
                {healthText(i.health)}
              </td>
              <td className="num col-weight">{i.weight}</td>
              <td className="col-expected">
                <WaitBar wait={wait} scaleSec={scaleSec} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const TaskRow = memo(function TaskRow({ task: t, instance }: { task: DispatchTask; instance: TaskInstance | null }) {
  const queueMs = t.scheduledAt === null ? null : t.scheduledAt - t.submittedAt;
  const totalMs = t.endedAt === null ? null : t.endedAt - t.submittedAt;
  const notes: string[] = [];
  if (t.attempts > 1) notes.push(`${t.attempts} attempts`);
  if (t.rerouted) notes.push('re-routed');
  return (
    <tr data-testid="task-row" data-task-id={t.id} data-status={t.status}>
      <th scope="row">
        <code title={t.id}>{shortId(t.id)}</code>
      </th>
      <td>
        <span className={`task-status status-${t.status}`} data-testid="task-status">
          {t.status}
        </span>
      </td>
      <td>
        {instance ? (
          <span className="num">
            {instance.host}:{instance.port}
          </span>
        ) : t.instance ? (
          <span className="muted" title={t.instance}>
            {shortId(t.instance)}
          </span>
        ) : (
          <span className="muted">not routed</span>
        )}
      </td>
      <td className="num">{formatClock(t.submittedAt)}</td>
      <td className="num" data-testid="task-queue">
        {queueMs !== null ? formatSeconds(queueMs / 1000) : t.status === 'queued' ? <span className="muted">waiting</span> : '—'}
      </td>
      <td className="num" data-testid="task-exec">
        {t.executionMs !== null ? formatSeconds(t.executionMs / 1000) : t.status === 'scheduled' ? (
          <span className="muted" title="accepted by its instance: running, or in the instance's own queue">
            accepted
          </span>
        ) : (
          '—'
        )}
      </td>
      <td className="num" data-testid="task-total">
        {totalMs !== null ? formatSeconds(totalMs / 1000) : '—'}
      </td>
      <td className="task-notes">
        {notes.length ? <span className="muted">{notes.join(' · ')}</span> : null}
        {t.error ? (
          <span className="row-problem" data-testid="task-error">
            {t.error}
          </span>
        ) : null}
      </td>
    </tr>
  );
});

/** What the instance's `GET /health` said last, in words. */
function healthText(h: TaskInstance['health']): string {
  if (!h) return '—';
  const parts: string[] = [];
  if (h.status !== undefined) parts.push(h.status);
  if (h.replicas_running !== undefined) parts.push(`${h.replicas_running} replica${h.replicas_running === 1 ? '' : 's'}`);
  if (h.queue_size !== undefined) parts.push(`queue ${h.queue_size}`);
  return parts.length ? parts.join(' · ') : 'answered';
}

function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

import { useCallback, useEffect, useId, useState } from 'react';
import type { StrategyName } from '../../../shared/scheduler.ts';
import type { PerformanceResponse } from '../../../shared/strategy.ts';
import { anchor } from '../feed/subject.ts';
import { ApiError, errorMessage } from '../lib/api.ts';
import { formatClock, strategyLabel } from '../lib/format.ts';
import { useScheduler, useSchedulerStore } from '../scheduler/hooks.ts';
import { missingRoute, useStrategyApi, type StrategyInfo } from './api.ts';
import { ComparePanel } from './ComparePanel.tsx';
import { ConfigForm } from './ConfigForm.tsx';
import { PerformanceTable } from './PerformanceTable.tsx';

const PERFORMANCE_REFRESH_MS = 10_000;

/** The strategy in charge and its config, every strategy a click away (with its config form), live figures, compare. */
export function StrategyView() {
  const api = useStrategyApi();
  const store = useSchedulerStore();
  const { strategy } = useScheduler();
  const [list, setList] = useState<StrategyInfo[] | null>(null);
  const [listError, setListError] = useState<string | null>(null);
  const [editing, setEditing] = useState<StrategyName | null>(null);
  const [switching, setSwitching] = useState<StrategyName | null>(null);
  const [switchError, setSwitchError] = useState<string | null>(null);
  // a 403: this session's token may read but not change the strategy (the server has a separate admin token)
  const [readOnly, setReadOnly] = useState(false);
  const currentName = strategy?.name ?? null;
  const since = strategy?.since ?? null;

  // may this session switch? (a server with a separate admin token says no to the plain API token)
  useEffect(() => {
    let alive = true;
    api.session().then(
      (session) => {
        if (alive) setReadOnly(!session.admin);
      },
      () => undefined, // an older server without /api/session: a 403 tells when switching
    );
    return () => {
      alive = false;
    };
  }, [api]);

  // the list says which one is current and what its config is: read it again when that changes
  useEffect(() => {
    let alive = true;
    api.strategies().then(
      (r) => {
        if (!alive) return;
        setList(r.strategies);
        setListError(null);
      },
      (err: unknown) => {
        if (alive) setListError(missingRoute(err) ? 'This server does not list its strategies yet (GET /api/strategies).' : errorMessage(err));
      },
    );
    return () => {
      alive = false;
    };
  }, [api, currentName, since]);

  const switchTo = (name: StrategyName) => {
    setSwitching(name);
    setSwitchError(null);
    api.put({ name }).then(
      (state) => {
        setSwitching(null);
        store.noteStrategy(state);
      },
      (err: unknown) => {
        setSwitching(null);
        setSwitchError(errorMessage(err));
        if (err instanceof ApiError && err.status === 403) setReadOnly(true);
      },
    );
  };

  const id = useId();
  const infoOf = (name: string | null) => list?.find((s) => s.name === name) ?? null;
  const current = infoOf(currentName);
  const currentConfig = strategy?.config ?? current?.defaults ?? null;
  return (
    <div className="view grid strategy-view">
      <section className="panel panel-wide" aria-labelledby={id} data-testid="strategy-panel">
        <header className="panel-head">
          <h2 id={id}>Strategy</h2>
          <span className="muted">
            {currentName ? (
              <>
                <strong data-testid="strategy-current">{strategyLabel(currentName)}</strong>
                {since ? ` since ${formatClock(since)}` : ''}
              </>
            ) : (
              'loading…'
            )}
          </span>
        </header>
        {current ? <p className="strategy-desc">{current.description}</p> : null}
        {currentConfig ? <ConfigSummary config={currentConfig} /> : null}
        {listError ? <p className="notice notice-bad">{listError}</p> : null}
        {readOnly ? (
          <p className="notice notice-warn" data-testid="read-only">
            This session may look but not switch or configure: the server wants its admin token for that.
          </p>
        ) : null}
        {switchError ? (
          <p className="notice notice-bad" role="alert" data-testid="switch-error">
            {switchError}
          </p>
        ) : null}
        <ul className="strategy-list" aria-label="Strategies">
          {(list ?? []).map((s) => {
            const isCurrent = s.name === currentName;
            return (
              <li key={s.name} id={anchor.strategy(s.name)} tabIndex={-1} className={isCurrent ? 'strategy-card current' : 'strategy-card'} data-testid="strategy-card" data-strategy={s.name}>
                <div className="strategy-card-head">
                  <h3>{strategyLabel(s.name)}</h3>
                  {isCurrent ? <span className="tag">in charge</span> : null}
                </div>
                <p className="muted">{s.description}</p>
                <div className="row-actions">
                  {isCurrent ? null : (
                    <button
                      type="button"
                      className="primary"
                      disabled={switching !== null || readOnly}
                      title={readOnly ? 'this token may not change the strategy (the server wants its admin token)' : undefined}
                      onClick={() => switchTo(s.name)}
                      data-testid="switch"
                    >
                      {switching === s.name ? 'Switching…' : 'Switch'}
                    </button>
                  )}
                  <button
                    type="button"
                    aria-expanded={editing === s.name}
                    disabled={readOnly}
                    onClick={() => setEditing(editing === s.name ? null : s.name)}
                    data-testid="configure"
                  >
                    Configure
                  </button>
                </div>
                {editing === s.name ? (
                  <ConfigForm
                    info={{ ...s, current: isCurrent }}
                    config={isCurrent && strategy?.config ? strategy.config : s.defaults}
                    onSaved={(state) => {
                      store.noteStrategy(state);
                      setEditing(null);
                    }}
                    onCancel={() => setEditing(null)}
                  />
                ) : null}
              </li>
            );
          })}
        </ul>
      </section>
      <PerformancePanel current={currentName} since={since} />
      <ComparePanel current={currentName} />
    </div>
  );
}

function ConfigSummary({ config }: { config: Record<string, unknown> }) {
  const flat: [string, string][] = [];
  const walk = (o: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(o)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) walk(v as Record<string, unknown>, key);
      else flat.push([key, Array.isArray(v) ? v.join(', ') : typeof v === 'object' ? JSON.stringify(v) : String(v)]);
    }
  };
  walk(config, '');
  if (flat.length === 0) return null;
  return (
    <dl className="config-summary" data-testid="config-summary">
      {flat.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd className="num">{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function PerformancePanel({ current, since }: { current: string | null; since: number | null }) {
  const id = useId();
  const api = useStrategyApi();
  const [perf, setPerf] = useState<PerformanceResponse | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const load = useCallback(() => {
    return api.performance().then(
      (r) => {
        setPerf(r);
        setProblem(null);
      },
      (err: unknown) => setProblem(missingRoute(err) ? 'This server does not report strategy performance yet (GET /api/strategy/performance).' : errorMessage(err)),
    );
  }, [api]);
  useEffect(() => {
    let alive = true;
    const tick = () => {
      if (alive) void load();
    };
    tick();
    const t = setInterval(tick, PERFORMANCE_REFRESH_MS);
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, [load, current, since]);
  return (
    <section className="panel panel-wide" aria-labelledby={id} data-testid="performance">
      <header className="panel-head">
        <h2 id={id}>Live performance</h2>
        <span className="muted">per strategy, over the time each was in charge{perf ? ` · starved after ${Math.round(perf.starvationMs / 60_000)} min` : ''}</span>
      </header>
      {problem ? <p className="notice notice-bad">{problem}</p> : null}
      {perf ? (
        <PerformanceTable rows={perf.strategies} current={perf.current} caption="Live performance per strategy" testId="performance-table" />
      ) : problem ? null : (
        <p className="waiting">loading…</p>
      )}
    </section>
  );
}

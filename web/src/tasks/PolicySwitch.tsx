import { useEffect, useId, useState } from 'react';
import { DISPATCH_POLICIES } from '../../../shared/names.ts';
import type { DispatchPolicy } from '../../../shared/dispatch.ts';
import { ApiError, errorMessage } from '../lib/api.ts';
import { formatClock, strategyLabel } from '../lib/format.ts';
import { useDispatchApi, useTasksStore } from './hooks.ts';

export const POLICY_DESCRIPTIONS: Record<DispatchPolicy, string> = {
  shortest_queue: 'each task goes to the instance where it should start soonest (the smallest expected wait)',
  round_robin: 'each instance of the model in turn',
  weighted: 'instances in proportion to their weight, spread out rather than in bursts',
  probabilistic: 'at random, shorter expected waits likelier, without starving the others',
  custom: 'the server’s own policy module (--dispatch-policy-module)',
};

const NO_CUSTOM = 'this server has no custom policy (it needs --dispatch-policy-module)';

/**
 * The routing policy in force and a switch listing every policy. `custom` is offered unless the server has none;
 * a refused switch shows the server's message; a 403 says the admin token is needed and turns the switch off.
 * Changes made elsewhere arrive as `policy_changed` and show here.
 */
export function PolicySwitch({ policy, since, customPolicy }: { policy: DispatchPolicy | null; since: number | null; customPolicy: boolean | null }) {
  const id = useId();
  const api = useDispatchApi();
  const store = useTasksStore();
  const [switching, setSwitching] = useState<DispatchPolicy | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  // the session's token may read but not switch (the server has a separate admin token)
  const [readOnly, setReadOnly] = useState(false);

  useEffect(() => {
    let alive = true;
    api.session().then(
      (s) => {
        if (alive) setReadOnly(!s.admin);
      },
      () => undefined, // a 403 tells when switching
    );
    return () => {
      alive = false;
    };
  }, [api]);

  const switchTo = (next: DispatchPolicy) => {
    if (next === policy || switching) return;
    setSwitching(next);
    setProblem(null);
    api.setPolicy(next).then(
      (answer) => {
        setSwitching(null);
        store.notePolicy(answer);
      },
      (err: unknown) => {
        setSwitching(null);
        if (err instanceof ApiError && err.status === 403) {
          setReadOnly(true);
          setProblem(`Switching the routing policy needs the admin token; this session may only look. (${err.message})`);
          return;
        }
        if (err instanceof ApiError && err.code === 'no_custom_policy') store.noteNoCustomPolicy();
        setProblem(errorMessage(err));
      },
    );
  };

  return (
    <section className="panel panel-wide policy-panel" aria-labelledby={id} data-testid="policy-panel">
      <header className="panel-head">
        <h2 id={id}>Routing policy</h2>
        <span className="muted">
          {policy ? (
            <>
              <strong data-testid="policy-current">{strategyLabel(policy)}</strong>
              {since ? ` since ${formatClock(since)}` : ''}
            </>
          ) : (
            'loading…'
          )}
        </span>
      </header>
      <p className="muted policy-desc" data-testid="policy-desc">
        {policy ? `${POLICY_DESCRIPTIONS[policy]}. A switch applies from the next task on.` : 'How each submitted task picks an instance of its model.'}
      </p>
      <div className="segmented policy-switch" role="group" aria-label="Routing policy" aria-describedby={customPolicy === false ? `${id}-note` : undefined} data-testid="policy-switch">
        {DISPATCH_POLICIES.map((p) => {
          const noCustom = p === 'custom' && customPolicy === false;
          return (
            <button
              key={p}
              type="button"
              aria-pressed={p === policy}
              disabled={policy === null || readOnly || switching !== null || noCustom}
              title={noCustom ? NO_CUSTOM : POLICY_DESCRIPTIONS[p]}
              onClick={() => switchTo(p)}
              data-testid="policy-option"
              data-policy={p}
            >
              {switching === p ? 'Switching…' : strategyLabel(p)}
            </button>
          );
        })}
      </div>
      {customPolicy === false ? (
        <p id={`${id}-note`} className="muted policy-note">
          Custom: {NO_CUSTOM}.
        </p>
      ) : null}
      {readOnly ? (
        <p className="notice notice-warn" data-testid="policy-read-only">
          This session may look but not switch: the server wants its admin token for that.
        </p>
      ) : null}
      {problem ? (
        <p className="notice notice-bad" role="alert" data-testid="policy-error">
          {problem}
        </p>
      ) : null}
    </section>
  );
}

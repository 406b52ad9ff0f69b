/**
 * Compare: this server's requests of the last hours replayed under every strategy (the table), and the workload
 * inflation of the same requests on the live cluster (the chart), from one POST /api/strategy/compare.
 */
import { useId, useState } from 'react';
import type { CompareResponse } from '../../../shared/strategy.ts';
import { errorMessage } from '../lib/api.ts';
import { formatClock, strategyLabel } from '../lib/format.ts';
import { missingRoute, useStrategyApi } from './api.ts';
import { InflationChart } from './InflationChart.tsx';
import { PerformanceTable } from './PerformanceTable.tsx';

export function ComparePanel({ current }: { current: string | null }) {
  const id = useId();
  const api = useStrategyApi();
  const [hours, setHours] = useState('24');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<CompareResponse | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const run = () => {
    setBusy(true);
    setProblem(null);
    const h = Number(hours);
    api.compare({ hours: Number.isFinite(h) && hours.trim() !== '' ? h : 24, inflation: true }).then(
      (r) => {
        setBusy(false);
        setResult(r);
      },
      (err: unknown) => {
        setBusy(false);
        setProblem(missingRoute(err) ? 'This server cannot compare strategies yet (POST /api/strategy/compare).' : errorMessage(err));
      },
    );
  };
  return (
    <section className="panel panel-wide" aria-labelledby={id} data-testid="compare">
      <header className="panel-head">
        <h2 id={id}>Compare</h2>
        <span className="muted">replays this server’s requests through every strategy, and fills the live cluster with them</span>
      </header>
      <div className="compare-controls">
        <label>
          last{' '}
          <input className="hours" value={hours} onChange={(e) => setHours(e.target.value)} inputMode="decimal" aria-label="Hours to replay" /> hours
        </label>
        <button type="button" className="primary" onClick={run} disabled={busy} data-testid="compare-run">
          {busy ? 'Comparing…' : 'Compare strategies'}
        </button>
      </div>
      {problem ? (
        <p className="notice notice-bad" role="alert">
          {problem}
        </p>
      ) : null}
      {result ? (
        <>
          <p className="muted num" data-testid="compare-summary">
            {result.requests} requests from {formatClock(result.from)} to {formatClock(result.to)}.{' '}
            {result.suggestion
              ? `${strategyLabel(result.suggestion.strategy)} would cut the mean wait by ${Math.round(result.suggestion.meanWaitCut <= 1 ? result.suggestion.meanWaitCut * 100 : result.suggestion.meanWaitCut)} %.`
              : `No strategy beats ${strategyLabel(result.current)} by 20 % on mean wait.`}
          </p>
          <PerformanceTable rows={result.rows} current={current ?? result.current} replay caption="Replay of the same requests per strategy" testId="compare-table" />
          {result.inflation ? <InflationChart result={result.inflation} /> : null}
        </>
      ) : null}
    </section>
  );
}

/**
 * The workload-inflation figure of a compare run on the live cluster: unallocated GPUs vs arrived GPU workload, one
 * line per placement, drawn by shared/plot.ts as `arbiter simulate --experiment inflation --plot` draws it; the
 * placement of the strategy in force is the thick line.
 */
import { useId, useMemo } from 'react';
import { inflationChart } from '../../../shared/plot.ts';
import type { InflationResult } from '../../../shared/strategy.ts';

export const INFLATION_TITLE = 'Unallocated GPUs vs arrived GPU workload';

export function InflationChart({ result }: { result: InflationResult }) {
  const id = useId();
  // the SVG escapes every text it writes (shared/plot.ts)
  const svg = useMemo(() => inflationChart(result.placements, result, { highlight: result.current }), [result]);
  const short = result.placements.some((p) => p.pods >= result.maxPods);
  return (
    <section className="inflation" aria-labelledby={id} data-testid="inflation">
      <h3 id={id}>{INFLATION_TITLE}</h3>
      <p className="muted num" data-testid="inflation-summary">
        The FGD paper’s workload inflation on this cluster as the scheduler sees it, emptied: {result.nodes} {result.nodes === 1 ? 'node' : 'nodes'},{' '}
        {result.gpus} GPUs; pods drawn (seed {result.seed}) from the {result.requests} requests compared, {result.gpuRequests} of them asking for GPUs, placed
        with no departures until the arrived GPU demand reaches the GPUs.
      </p>
      {result.empty !== null ? (
        <p className="notice" data-testid="inflation-empty">
          {result.empty}
        </p>
      ) : (
        <>
          <div className="inflation-chart" role="img" aria-label={`${INFLATION_TITLE}: ${result.placements.map((p) => p.name).join(', ')}`} data-testid="inflation-chart" dangerouslySetInnerHTML={{ __html: svg }} />
          <p className="muted" data-testid="inflation-note">
            {result.current ? `The thick line is ${result.current}, the placement of the strategy in force.` : 'The strategy in force places otherwise than these lines.'}
            {short ? ` Lines that stop before 100 % reached the bound of ${result.maxPods} pods drawn per placement.` : ''}
          </p>
        </>
      )}
    </section>
  );
}

// @vitest-environment jsdom
/**
 * The compare panel's inflation chart: one compare run asks for the experiment, and its answer is drawn as one line
 * per placement with a legend, the strategy in force's placement thick; an empty answer is explained instead.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { INFLATION_PLACEMENTS } from '../../shared/names.ts';
import type { CompareBody, CompareResponse, InflationResult } from '../../shared/strategy.ts';
import { StrategyApiContext, type StrategyApi } from '../../web/src/strategy/api.ts';
import { ComparePanel } from '../../web/src/strategy/ComparePanel.tsx';
import { click, mount, type Mounted } from './dom.ts';

const T0 = Date.UTC(2026, 0, 5, 9);

/** A line per placement: fgd leaves the least unallocated, the others more the later in the list. */
function inflation(over: Partial<InflationResult> = {}): InflationResult {
  return {
    nodes: 2, gpus: 8, seed: 1, requests: 12, gpuRequests: 9, empty: null, maxPods: 20_000, current: 'resource_pooling',
    placements: INFLATION_PLACEMENTS.map((name, k) => ({
      name, pods: 30, failed: k,
      points: Array.from({ length: 100 }, (_, i) => ({ arrivedPct: i + 1, unallocatedGpuPct: Math.max(0, i + 1 - 80) * (k / 10), fragmentationPct: 10 })),
    })),
    ...over,
  };
}

function compareApi(answer: InflationResult | undefined, bodies: CompareBody[]): StrategyApi {
  const response: CompareResponse = { from: T0 - 3600_000, to: T0, requests: 12, current: 'resource_pooling', rows: [], suggestion: null, ...(answer ? { inflation: answer } : {}) };
  const refuse = () => Promise.reject(new Error('not in this test'));
  return {
    session: refuse, current: refuse, strategies: refuse, put: refuse, performance: refuse,
    compare: (body) => {
      bodies.push(body);
      return Promise.resolve(response);
    },
  };
}

let view: Mounted | undefined;
afterEach(() => view?.unmount());

async function runCompare(answer: InflationResult | undefined): Promise<CompareBody[]> {
  const bodies: CompareBody[] = [];
  view = await mount(
    <StrategyApiContext.Provider value={compareApi(answer, bodies)}>
      <ComparePanel current="resource_pooling" />
    </StrategyApiContext.Provider>,
  );
  expect(view.byTestId('inflation')).toHaveLength(0);
  await click(view.byTestId('compare-run')[0]);
  return bodies;
}

describe('inflation chart of a compare run', () => {
  it('asks for the experiment and draws a line per placement with its legend, the current one thick', async () => {
    expect(await runCompare(inflation())).toEqual([{ hours: 24, inflation: true }]);
    const chart = view!.byTestId('inflation-chart')[0]!;
    expect(view!.container.querySelector('.inflation h3')?.textContent).toBe('Unallocated GPUs vs arrived GPU workload');
    expect(chart.querySelector('svg > text')?.textContent).toBe('Workload inflation on 2 nodes, 8 GPUs (seed 1)');
    const lines = [...chart.querySelectorAll('svg polyline')];
    expect(lines.map((l) => l.getAttribute('data-series'))).toEqual([...INFLATION_PLACEMENTS]);
    // each line starts at (0, 0) and has a point per 1 % of arrived demand
    for (const l of lines) expect(l.getAttribute('points')!.split(' ')).toHaveLength(101);
    const legend = [...chart.querySelectorAll('svg g[data-series] text')].map((t) => t.textContent);
    expect(legend).toEqual([...INFLATION_PLACEMENTS]);
    const width = (name: string) => chart.querySelector(`polyline[data-series="${name}"]`)!.getAttribute('stroke-width');
    expect(width('resource_pooling')).toBe('3');
    expect(width('fgd')).toBe('1.5');
    expect(chart.querySelector('g[data-series="resource_pooling"] text')!.getAttribute('font-weight')).toBe('bold');
    expect(view!.text('inflation-summary')).toMatch(/2 nodes, 8 GPUs; pods drawn \(seed 1\) from the 12 requests compared, 9 of them asking for GPUs/);
    expect(view!.text('inflation-note')).toBe('The thick line is resource_pooling, the placement of the strategy in force.');
  });

  it('says when lines stopped at the bound on draws', async () => {
    await runCompare(inflation({ maxPods: 30, current: null }));
    expect(view!.text('inflation-note')).toBe('The strategy in force places otherwise than these lines. Lines that stop before 100 % reached the bound of 30 pods drawn per placement.');
    expect([...view!.container.querySelectorAll('polyline')].map((l) => l.getAttribute('stroke-width'))).not.toContain('3');
  });

  it('explains an empty chart instead of drawing one', async () => {
    const empty = 'None of the 3 requests in the compared hours asks for a GPU: nothing would fill the GPUs.';
    await runCompare(inflation({ gpuRequests: 0, empty, placements: [], maxPods: 0 }));
    expect(view!.text('inflation-empty')).toBe(empty);
    expect(view!.byTestId('inflation-chart')).toHaveLength(0);
  });

  it('shows no chart when the answer has no experiment', async () => {
    await runCompare(undefined);
    expect(view!.byTestId('compare-summary')).toHaveLength(1);
    expect(view!.byTestId('inflation')).toHaveLength(0);
  });
});

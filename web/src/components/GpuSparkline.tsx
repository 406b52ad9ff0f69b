import { useMemo } from 'react';
import type { ResourceStatus } from '../../../shared/resources.ts';
import { seriesName } from '../lib/api.ts';
import { gpuMemoryPercent } from '../lib/gpu.ts';
import { useSeriesWindow, type SeriesRow } from '../live/useSeriesWindow.ts';
import { Sparkline } from './Sparkline.tsx';

const UTIL_COLOUR = 0;
const MEM_COLOUR = 3;

/** Utilisation and memory of one GPU over the last minutes. */
export function GpuSparkline({ index, windowMs = 10 * 60_000 }: { index: number; windowMs?: number }) {
  const names = useMemo(() => [seriesName.gpuUtil(index), seriesName.gpuMem(index)], [index]);
  const pick = (s: ResourceStatus): SeriesRow | null => {
    const g = s.gpus.find((x) => x.index === index);
    return g ? { tMs: g.sampledAt, values: [g.utilizationGpuPercent, gpuMemoryPercent(g)] } : null;
  };
  const { data, windowSec, version } = useSeriesWindow(names, pick, windowMs);
  const [t, util = [], mem = []] = data;
  const series = useMemo(
    () => [
      { values: util, colour: UTIL_COLOUR, area: true },
      { values: mem, colour: MEM_COLOUR, dashed: true },
    ],
    // the columns grow in place: `version` says when
    [version, util, mem],
  );
  const minutes = Math.round(windowMs / 60_000);
  return (
    <figure className="spark-box">
      <Sparkline
        t={t}
        series={series}
        windowSec={windowSec}
        max={100}
        label={`GPU ${index} utilisation and memory used, last ${minutes} minutes`}
        testId="gpu-sparkline"
      />
      <figcaption className="spark-key muted" aria-hidden="true">
        <span className="key" style={{ ['--spark' as string]: `var(--series-${UTIL_COLOUR})` }}>util</span>
        <span className="key key-dashed" style={{ ['--spark' as string]: `var(--series-${MEM_COLOUR})` }}>mem</span>
        <span>last {minutes} min</span>
      </figcaption>
    </figure>
  );
}

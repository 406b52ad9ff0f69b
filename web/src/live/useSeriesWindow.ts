/**
 * A few history series over the last minutes, for small charts drawn by React: history from /api/history at
 * mount (and after a gap), then one row per live resource_status. Re-renders only the component that uses it,
 * once per batch of new rows.
 */
import { useEffect, useLayoutEffect, useMemo, useReducer, useRef } from 'react';
import type { ResourceStatus } from '../../../shared/resources.ts';
import { fetchKnownHistory } from '../lib/api.ts';
import { RollingSeries, type Aligned, type HistoryColumn } from '../lib/rolling.ts';
import { useLiveSource } from './hooks.ts';

/** One row taken from a snapshot: its time (epoch ms) and a value per series, in the order of `names`. */
export interface SeriesRow {
  tMs: number;
  values: readonly (number | null)[];
}

export interface SeriesWindow {
  /** `[t (seconds), ...one column per name]`; the arrays are replaced or grown in place, read them at render */
  data: Aligned;
  windowSec: number;
  /** changes whenever `data` does */
  version: number;
}

export function useSeriesWindow(
  names: readonly string[],
  pick: (status: ResourceStatus) => SeriesRow | null,
  windowMs: number,
): SeriesWindow {
  const source = useLiveSource();
  const key = names.join(',');
  // one row a second at most (the history's resolution), whatever the sample rate
  const buf = useMemo(() => new RollingSeries(key ? key.split(',') : [], windowMs / 1000, 1), [key, windowMs]);
  const [version, bump] = useReducer((n: number) => n + 1, 0);
  const pickRef = useRef(pick);
  useLayoutEffect(() => {
    pickRef.current = pick;
  });

  useEffect(() => {
    const list = key ? key.split(',') : [];
    let disposed = false;
    let ctl: AbortController | null = null;

    const add = (statuses: readonly ResourceStatus[]) => {
      let added = false;
      for (const s of statuses) {
        const row = pickRef.current(s);
        if (row && buf.append(row.tMs / 1000, row.values)) added = true;
      }
      if (added && !disposed) bump();
    };

    const load = () => {
      if (list.length === 0) return;
      ctl?.abort();
      const c = (ctl = new AbortController());
      const end = buf.lastT !== undefined ? buf.lastT * 1000 : Date.now();
      fetchKnownHistory({ series: list, sinceMs: end - windowMs, signal: c.signal }).then(
        (res) => {
          if (disposed || c.signal.aborted) return;
          const index = new Map(list.map((n, k) => [n, k]));
          const cols: HistoryColumn[] = [];
          for (const s of res.series) {
            const k = index.get(s.name);
            if (k !== undefined) cols.push({ index: k, t: s.t, v: s.v });
          }
          buf.replaceWithHistory(cols);
          bump();
        },
        () => {
          // no history yet (a figure never reported) or the request failed: live points only
        },
      );
    };

    // the current sample first (delivered before we subscribed), then history behind it
    const current = source.getSnapshot().latest.resource_status;
    if (current) add([current.data]);
    const offEnvelopes = source.onEnvelopes('resource_status', (envs) => add(envs.map((e) => e.data)));
    const offGap = source.onGap(load); // events were lost: fill the hole from history
    load();
    return () => {
      disposed = true;
      ctl?.abort();
      offEnvelopes();
      offGap();
    };
  }, [source, buf, key, windowMs]);

  return { data: buf.data(), windowSec: windowMs / 1000, version };
}

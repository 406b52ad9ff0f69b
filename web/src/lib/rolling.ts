/**
 * A sliding window of aligned time series for uPlot: history first, then live points appended.
 * Time in seconds (uPlot's default), values may be null (no sample).
 */
export type Column = (number | null)[];
export type Aligned = [number[], ...Column[]];

export interface HistoryColumn {
  /** index into `keys` */
  index: number;
  /** epoch ms */
  t: readonly number[];
  v: readonly (number | null)[];
}

export class RollingSeries {
  private t: number[] = [];
  private readonly cols: Column[];

  /**
   * @param minStepSec one row per step of this length (a sample in the last row's step replaces it), so the window
   *   holds at most windowSec / minStepSec rows whatever the sample rate, the newest figure last; 0: keep all
   */
  constructor(
    readonly keys: readonly string[],
    readonly windowSec: number,
    readonly minStepSec = 0,
  ) {
    this.cols = keys.map(() => []);
  }

  get length(): number {
    return this.t.length;
  }

  get lastT(): number | undefined {
    return this.t[this.t.length - 1];
  }

  /** Append one row (seconds); ignored unless newer than the last row. Returns whether it was added. */
  append(tSec: number, values: readonly (number | null)[]): boolean {
    const last = this.lastT;
    if (last !== undefined && tSec <= last) return false;
    const n = this.t.length;
    if (this.minStepSec > 0 && last !== undefined && Math.floor(tSec / this.minStepSec) === Math.floor(last / this.minStepSec)) {
      // same step as the last row: that row becomes this sample
      this.t[n - 1] = tSec;
      this.cols.forEach((col, i) => (col[n - 1] = values[i] ?? null));
      return true;
    }
    this.t.push(tSec);
    this.cols.forEach((col, i) => col.push(values[i] ?? null));
    this.trim();
    return true;
  }

  /**
   * Replace the window with history, keeping live rows newer than the history's last row
   * (rows that arrived while the request was in flight).
   */
  replaceWithHistory(columns: readonly HistoryColumn[]): void {
    const rows = new Map<number, Column>();
    for (const c of columns) {
      if (c.index < 0 || c.index >= this.cols.length) continue;
      const n = Math.min(c.t.length, c.v.length);
      for (let i = 0; i < n; i++) {
        const ts = c.t[i]! / 1000;
        let row = rows.get(ts);
        if (!row) rows.set(ts, (row = this.cols.map(() => null)));
        row[c.index] = c.v[i] ?? null;
      }
    }
    const times = [...rows.keys()].sort((a, b) => a - b);
    const lastHist = times[times.length - 1] ?? -Infinity;
    const keepFrom = this.t.findIndex((x) => x > lastHist);
    const liveT = keepFrom < 0 ? [] : this.t.slice(keepFrom);
    const liveCols = keepFrom < 0 ? this.cols.map(() => []) : this.cols.map((c) => c.slice(keepFrom));
    this.t = [...times, ...liveT];
    this.cols.forEach((col, k) => {
      col.length = 0;
      for (const ts of times) col.push(rows.get(ts)![k] ?? null);
      col.push(...liveCols[k]!);
    });
    this.trim();
  }

  /** Drop rows older than the window, measured from the newest row. */
  private trim(): void {
    const last = this.lastT;
    if (last === undefined) return;
    const from = last - this.windowSec;
    let drop = 0;
    while (drop < this.t.length && this.t[drop]! < from) drop++;
    if (drop === 0) return;
    this.t.splice(0, drop);
    for (const col of this.cols) col.splice(0, drop);
  }

  /** The arrays themselves (uPlot reads them; do not mutate). */
  data(): Aligned {
    return [this.t, ...this.cols];
  }
}

/** A uPlot that draws nothing (jsdom has no canvas): `vi.mock('uplot', () => import('./uplot-stub.ts'))`. */
export default class FakePlot {
  setData(): void {}
  setSize(): void {}
  setSeries(): void {}
  destroy(): void {}
}

/** Evaluates the hint rules once a second against the scheduler and pushes raised and cleared hints. */
import type { Clock, Timer } from '../clock.ts';
import type { EventHub } from '../push/hub.ts';
import type { SchedulerEngine } from '../scheduler/engine.ts';
import { HintBook } from '../hints/book.ts';
import { HINT_DEFAULTS, evaluateHints, type HintCandidate, type HintRuleOptions } from '../hints/rules.ts';

/** Waiting requests looked at per evaluation (in arrival order): the rules stay cheap with huge queues. */
const QUEUE_WINDOW = 1000;

export class HintService {
  readonly book = new HintBook();
  private timer: Timer | null = null;
  private readonly sources: (() => HintCandidate[])[] = [];

  constructor(
    private readonly engine: SchedulerEngine,
    private readonly hub: EventHub,
    private readonly clock: Clock,
    private readonly opts: HintRuleOptions = HINT_DEFAULTS,
    private readonly intervalMs = 1000,
  ) {}

  evaluate(): void {
    const now = this.clock.now();
    const candidates = evaluateHints({
      now,
      queue: this.engine.listQueue('fifo', QUEUE_WINDOW, 0).items,
      allocations: this.engine.listAllocations('active'),
      openConflicts: this.engine.openConflicts(),
      free: this.engine.free(),
    }, this.opts);
    for (const source of this.sources) candidates.push(...source());
    for (const ev of this.book.update(candidates, now)) this.hub.publish('hint', ev);
  }

  /** More candidates each evaluation (e.g. the strategy service's suggestion). */
  addSource(source: () => HintCandidate[]): void {
    this.sources.push(source);
  }

  start(): void {
    const loop = () => {
      this.timer = this.clock.setTimeout(() => {
        this.evaluate();
        loop();
      }, this.intervalMs);
    };
    this.evaluate();
    loop();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }
}

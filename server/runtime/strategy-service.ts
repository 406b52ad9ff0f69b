/**
 * Strategies in the running server: which one is active and with what config (persisted through the
 * `strategy_changed` record, so a restart keeps it), switching with validation, live evaluation per strategy
 * (PerformanceRecorder fed by every change batch), conflict resolution with a named strategy, and compare: this
 * server's own requests of the last hours replayed through the simulator under every strategy (and, when asked,
 * the workload-inflation experiment on the live cluster with them).
 */
import { z } from 'zod';
import type { Clock } from '../clock.ts';
import { invalidInput } from '../errors.ts';
import type { HintCandidate } from '../hints/rules.ts';
import { STRATEGY_NAMES, type Allocation, type Change, type Request, type StrategyName } from '../../shared/scheduler.ts';
import {
  STRATEGY_CONFIG_SCHEMAS, STRATEGY_DESCRIPTIONS,
  type CompareBody, type CompareResponse, type PerformanceResponse, type StrategyPerformance, type StrategyState,
} from '../../shared/strategy.ts';
import { liveInflation, liveNodes } from '../sim/live-inflation.ts';
import { simulate, type SimJob } from '../sim/simulator.ts';
import type { SchedulerEngine } from '../scheduler/engine.ts';
import { PerformanceRecorder } from '../scheduler/evaluation.ts';
import { createStrategy } from '../scheduler/strategies/index.ts';

/** What the service reads from the store. */
export interface StrategyStore {
  strategy(): StrategyName | null;
  strategyConfig(name: StrategyName): Record<string, unknown> | undefined;
  strategySince(): number | null;
  requestsSince(sinceMs: number): { request: Request; allocation: Allocation | null }[];
  strategyPeriods(): { name: StrategyName; start: number; end: number | null }[];
  decisionsTail(limit: number): Change[];
}

export interface StrategyServiceOptions {
  engine: SchedulerEngine;
  clock: Clock;
  store?: StrategyStore;
  /** the strategy when none was ever chosen @default priority_based */
  initial?: StrategyName;
  /** a request waiting longer counts as starved @default 600000 */
  starvationMs?: number;
  /** change records of the decision log replayed into the figures at start (the newest) @default 200000 */
  replayDecisions?: number;
}

/** A suggestion from the last compare lives this long (or until the strategy is switched). */
const SUGGESTION_TTL_MS = 24 * 3600_000;

export class StrategyService {
  recorder: PerformanceRecorder;
  private since: number;
  private suggestion: { strategy: StrategyName; meanWaitCut: number; at: number; current: StrategyName } | null = null;

  constructor(private readonly opts: StrategyServiceOptions) {
    const now = opts.clock.now();
    this.since = opts.store?.strategySince() ?? now;
    this.recorder = this.newRecorder(opts.engine.strategyName, this.since);
    opts.engine.onChange((changes) => {
      for (const c of changes) if (c.kind === 'strategy_changed') this.since = c.at;
      if (this.replaying) this.early.push(...changes);
      const gpus = opts.engine.capacity().gpus ?? 0;
      this.recorder.setCapacity(opts.clock.now(), gpus);
      this.recorder.record(changes);
    });
  }

  /** The strategy and config to start the engine with: the stored choice, else `initial` with its defaults. */
  static initialStrategy(store: StrategyStore | undefined, initial: StrategyName = 'priority_based') {
    const name = store?.strategy() ?? initial;
    const saved = store?.strategyConfig(name);
    const parsed = STRATEGY_CONFIG_SCHEMAS[name].safeParse(saved ?? {});
    return createStrategy(name, parsed.success ? parsed.data : {});
  }

  /**
   * After the engine restored its state: the figures are rebuilt from the newest records of the decision log (so
   * they cover earlier runs of the server, as far back as `replayDecisions` records go), then what the engine holds
   * and the log did not reach is booked without counting as new. The GPU capacity of the replayed time is taken to
   * be today's (the log does not keep it).
   */
  restored(): void {
    const e = this.opts.engine;
    const now = this.opts.clock.now();
    const store = this.opts.store;
    const tail = store ? store.decisionsTail(this.opts.replayDecisions ?? 200_000) : [];
    if (tail.length && store) {
      const firstAt = tail[0]!.at;
      const periods = store.strategyPeriods();
      // the strategy active at the first record: its period, else the one the first switch after it left
      const firstSwitch = tail.find((c) => c.kind === 'strategy_changed');
      const active = periods.find((p) => p.start <= firstAt && (p.end === null || p.end > firstAt))?.name
        ?? (firstSwitch?.kind === 'strategy_changed' ? firstSwitch.previous : e.strategyName);
      const r = this.newRecorder(active, firstAt);
      r.setCapacity(firstAt, e.capacity().gpus ?? 0);
      r.record(tail);
      // the changes made since this service started (the restore itself) are not in the log yet: stored asynchronously
      r.record(this.early);
      this.recorder = r;
    }
    this.early = [];
    this.replaying = false;
    this.recorder.setCapacity(now, e.capacity().gpus ?? 0);
    this.recorder.restore(now, { requests: e.listRequests('queued'), allocations: e.listAllocations('active') });
  }

  private early: Change[] = [];
  private replaying = true;

  private newRecorder(strategy: StrategyName, since: number): PerformanceRecorder {
    return new PerformanceRecorder({
      strategy, since, starvationMs: this.opts.starvationMs ?? 600_000,
      gpuMemoryMiB: (_node, index) => this.opts.engine.free().gpus.find((g) => g.index === index)?.memoryMiB,
    });
  }

  state(): StrategyState {
    return { name: this.opts.engine.strategyName, config: this.opts.engine.strategyConfig, since: this.since };
  }

  list() {
    const current = this.opts.engine.strategyName;
    return STRATEGY_NAMES.map((name) => ({
      name,
      description: STRATEGY_DESCRIPTIONS[name],
      configSchema: z.toJSONSchema(STRATEGY_CONFIG_SCHEMAS[name], { io: 'input' }) as Record<string, unknown>,
      defaults: STRATEGY_CONFIG_SCHEMAS[name].parse({}) as Record<string, unknown>,
      current: name === current,
    }));
  }

  /** The config `name` would run with: `config` parsed by its schema (400 naming the field), else the one it had last. */
  resolveConfig(name: StrategyName, config: Record<string, unknown> | undefined): Record<string, unknown> {
    const given = config ?? (name === this.opts.engine.strategyName ? this.opts.engine.strategyConfig : this.opts.store?.strategyConfig(name)) ?? {};
    const parsed = STRATEGY_CONFIG_SCHEMAS[name].safeParse(given);
    if (!parsed.success) {
      throw invalidInput('invalid config', parsed.error, ['config']);
    }
    return parsed.data as Record<string, unknown>;
  }

  /** Switch (takes effect in this call's decision pass); pushes `strategy_changed` and is persisted with it. */
  switch(name: StrategyName, config?: Record<string, unknown>): StrategyState {
    const parsed = this.resolveConfig(name, config);
    this.opts.engine.setStrategy(createStrategy(name, parsed));
    if (this.suggestion && this.suggestion.current !== name) this.suggestion = null;
    return this.state();
  }

  performance(): PerformanceResponse {
    return { current: this.opts.engine.strategyName, starvationMs: this.recorder.starvationMs, strategies: this.recorder.snapshot(this.opts.clock.now()) };
  }

  /**
   * Replay this server's requests of the last `hours` under each strategy (each with the config it had last, the
   * current one with its own) on this cluster's placeable nodes, each as it is, and suggest the one with the lowest mean wait
   * when it cuts the current one's by at least 20 % (a hint says so).
   * Durations: a granted request held its allocation until it ended (or until now); a request still waiting or
   * cancelled runs for its expectedDurationMs, else the median of the others; a cancelled one is cancelled again
   * after as long as it waited. With `inflation`: the workload-inflation experiment on the live cluster, its pods
   * drawn from the same requests (sim/live-inflation.ts).
   */
  compare(body: Required<Pick<CompareBody, 'hours'>> & Pick<CompareBody, 'strategies' | 'inflation' | 'seed'>): CompareResponse {
    const now = this.opts.clock.now();
    const from = now - body.hours * 3600_000;
    const rows = this.opts.store?.requestsSince(from) ?? [];
    const held = rows.flatMap(({ allocation: a }) => (a ? [(a.endedAt ?? now) - a.grantedAt] : []));
    held.sort((a, b) => a - b);
    const median = held.length ? held[Math.floor((held.length - 1) / 2)]! : 60_000;
    const jobs: SimJob[] = rows.map(({ request: r, allocation: a }) => ({
      id: r.id, owner: r.owner, ...(r.group !== undefined ? { group: r.group } : {}), priority: r.priority, preemptible: r.preemptible,
      resources: r.resources, ...(r.gpuModels ? { gpuModels: [...r.gpuModels] } : {}), submitAtMs: r.submittedAt,
      durationMs: Math.max(1, a ? (a.endedAt ?? now) - a.grantedAt : r.expectedDurationMs ?? median),
      ...(r.status === 'cancelled' && !a ? { cancelAfterMs: Math.max(1, r.updatedAt - r.submittedAt) } : {}),
    }));
    // the nodes the scheduler can place on now, each as it is; without any (all unreachable, capacity unknown) one
    // node of the summed capacity
    let nodes = liveNodes(this.opts.engine, 'actual').nodes;
    if (!nodes.length) {
      const cap = this.opts.engine.capacity();
      const free = this.opts.engine.free();
      nodes = [{
        name: this.opts.engine.nodes()[0] ?? 'local', cpu: cap.cpu ?? 0, memoryMiB: cap.memoryMiB ?? 0,
        gpus: cap.gpus ?? 0, gpuMemoryMiB: free.gpus.reduce((m, g) => Math.max(m, g.memoryMiB), 0) || 16_384,
      }];
    }
    const current = this.opts.engine.strategyName;
    const names = body.strategies ?? [...STRATEGY_NAMES];
    const out: StrategyPerformance[] = [];
    for (const name of names) {
      const config = name === current ? this.opts.engine.strategyConfig : this.resolveConfig(name, undefined);
      if (!jobs.length) {
        out.push({ strategy: name, activeMs: 0, requests: 0, granted: 0, cancelled: 0, failed: 0, successRate: null, waitMs: { mean: null, p50: null, p95: null }, utilisation: null, jain: null, preemptions: 0, suspensions: 0, starved: 0 });
        continue;
      }
      const { jobs: _j, neverFit: _n, completed: _c, resubmitted: _r, ...row } = simulate(jobs, { strategy: name, config, nodes, starvationMs: this.recorder.starvationMs });
      out.push(row);
    }
    const mine = out.find((r) => r.strategy === current)?.waitMs.mean ?? null;
    let suggestion: CompareResponse['suggestion'] = null;
    if (mine !== null && mine > 0) {
      for (const r of out) {
        if (r.strategy === current || r.waitMs.mean === null) continue;
        const cut = 1 - r.waitMs.mean / mine;
        if (cut >= 0.2 && (!suggestion || cut > suggestion.meanWaitCut)) suggestion = { strategy: r.strategy, meanWaitCut: cut };
      }
    }
    this.suggestion = suggestion ? { ...suggestion, at: now, current } : null;
    const answer: CompareResponse = { from, to: now, requests: jobs.length, current, rows: out, suggestion };
    if (body.inflation) {
      const strategy = { name: current, config: this.opts.engine.strategyConfig };
      answer.inflation = liveInflation({ cluster: this.opts.engine, requests: rows.map((r) => r.request), seed: body.seed ?? 1, strategy });
    }
    return answer;
  }

  /** The hint of the last compare, while it stands. */
  hints(): HintCandidate[] {
    const s = this.suggestion;
    const now = this.opts.clock.now();
    if (!s || s.current !== this.opts.engine.strategyName || now - s.at > SUGGESTION_TTL_MS) return [];
    return [{
      key: `strategy_suggestion:${s.strategy}`,
      kind: 'strategy_suggestion',
      severity: 2,
      title: `${s.strategy} would cut the mean wait by ${Math.round(s.meanWaitCut * 100)} %`,
      message: `Replaying this server's recent requests, ${s.strategy} waits ${Math.round(s.meanWaitCut * 100)} % less on average than ${s.current}. Switch with PUT /api/strategy.`,
      subject: { kind: 'strategy', id: s.strategy },
    }];
  }
}

/** Active hints by cause: a cause that persists is not repeated; one that goes is cleared. */
import { randomUUID } from 'node:crypto';
import type { Hint, HintEvent } from '../../shared/hints.ts';
import type { HintCandidate } from './rules.ts';

export class HintBook {
  private readonly active = new Map<string, Hint>();
  private readonly recent: Hint[] = [];

  constructor(private readonly newId: () => string = randomUUID, private readonly keepCleared = 200) {}

  /** Apply the candidates of one evaluation; returns the events to push. */
  update(candidates: HintCandidate[], now: number): HintEvent[] {
    const events: HintEvent[] = [];
    const seen = new Set<string>();
    for (const { key, ...c } of candidates) {
      seen.add(key);
      if (this.active.has(key)) continue;
      const hint: Hint = { ...c, id: this.newId(), createdAt: now, status: 'active' };
      this.active.set(key, hint);
      events.push({ kind: 'hint_raised', hint });
    }
    for (const [key, hint] of this.active) {
      if (seen.has(key)) continue;
      this.active.delete(key);
      const cleared: Hint = { ...hint, status: 'cleared', clearedAt: now };
      this.recent.unshift(cleared);
      events.push({ kind: 'hint_cleared', hint: cleared });
    }
    this.recent.length = Math.min(this.recent.length, this.keepCleared);
    return events;
  }

  list(status: 'active' | 'cleared' | 'all' = 'active'): Hint[] {
    const active = [...this.active.values()].sort((a, b) => b.severity - a.severity || a.createdAt - b.createdAt);
    if (status === 'active') return active;
    if (status === 'cleared') return [...this.recent];
    return [...active, ...this.recent];
  }
}

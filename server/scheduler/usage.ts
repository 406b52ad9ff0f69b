/**
 * Decayed usage per owner and per group, for fair-share (pure; time passed in). For each resource r (cpu, memory,
 * GPUs) it keeps what the owner holds now, `held_r`, and `hist_r`, an exponential moving average of `held_r` over
 * time with half-life H: hist(t) = hist(t0)·2^(−(t−t0)/H) + held·(1 − 2^(−(t−t0)/H)). An owner's usage is
 * `u_r = held_r + hist_r`: what it holds counts at once (so one pass does not hand everything to one owner) and what
 * it held recently still counts, fading by half every H.
 *
 * - DRF dominant share: s = max_r(u_r / cap_r) / weight.
 * - Slurm's fair-share factor: 2^(−U/S), U = the owner's usage ÷ all owners' usage (GPU-equivalents when the
 *   cluster has GPUs, else the dominant share), S = its weight ÷ the weights of the owners known.
 * GPU amounts are GPU-equivalents: whole GPUs count 1 each, a fractional share its MiB ÷ the GPU's MiB.
 */
export interface Amount {
  cpu: number;
  memoryMiB: number;
  gpus: number;
}

interface Account {
  held: Amount;
  hist: Amount;
  at: number;
}

const ZERO: Amount = { cpu: 0, memoryMiB: 0, gpus: 0 };

export class UsageTracker {
  private readonly accounts = new Map<string, Account>();
  /** bumped on every add/remove (callers cache per version and time) */
  version = 0;
  private cap: Amount = { cpu: 0, memoryMiB: 0, gpus: 0 };

  constructor(private halfLifeMs = 3600_000) {}

  setHalfLife(ms: number, now: number): void {
    if (ms === this.halfLifeMs) return;
    for (const a of this.accounts.values()) this.advance(a, now);
    this.halfLifeMs = ms;
  }

  setCapacity(cap: Amount): void {
    this.cap = cap;
  }

  get capacity(): Amount {
    return this.cap;
  }

  /** An allocation starts (or resumes) counting for `owner` (and `group:<g>` when it has one). */
  add(owner: string, group: string | undefined, amount: Amount, now: number): void {
    this.change(`owner:${owner}`, amount, 1, now);
    if (group !== undefined) this.change(`group:${group}`, amount, 1, now);
  }

  remove(owner: string, group: string | undefined, amount: Amount, now: number): void {
    this.change(`owner:${owner}`, amount, -1, now);
    if (group !== undefined) this.change(`group:${group}`, amount, -1, now);
  }

  /** u_r = held_r + hist_r at `now`. */
  usage(key: string, now: number): Amount {
    const a = this.accounts.get(key);
    if (!a) return ZERO;
    const d = this.decay(now - a.at);
    return {
      cpu: a.held.cpu + a.hist.cpu * d + a.held.cpu * (1 - d),
      memoryMiB: a.held.memoryMiB + a.hist.memoryMiB * d + a.held.memoryMiB * (1 - d),
      gpus: a.held.gpus + a.hist.gpus * d + a.held.gpus * (1 - d),
    };
  }

  held(key: string): Amount {
    return this.accounts.get(key)?.held ?? ZERO;
  }

  /** max_r(u_r / cap_r) for `owner:<name>` or `group:<name>` (unweighted). */
  dominantShare(key: string, now: number): number {
    const u = this.usage(key, now);
    let s = 0;
    if (this.cap.cpu > 0) s = Math.max(s, u.cpu / this.cap.cpu);
    if (this.cap.memoryMiB > 0) s = Math.max(s, u.memoryMiB / this.cap.memoryMiB);
    if (this.cap.gpus > 0) s = Math.max(s, u.gpus / this.cap.gpus);
    return s;
  }

  /** Slurm's fair-share factor 2^(−U/S) for `owner`, with weights (absent: `defaultWeight`). */
  fairShareFactor(owner: string, now: number, weightOf: (owner: string) => number): number {
    let total = 0;
    let weights = 0;
    let mine = 0;
    for (const key of this.accounts.keys()) {
      if (!key.startsWith('owner:')) continue;
      const name = key.slice(6);
      const u = this.scalar(key, now);
      total += u;
      weights += weightOf(name);
      if (name === owner) mine = u;
    }
    if (!this.accounts.has(`owner:${owner}`)) weights += weightOf(owner);
    if (total <= 0 || weights <= 0) return 1;
    const S = weightOf(owner) / weights;
    return Math.pow(2, -(mine / total) / S);
  }

  /** Owners seen (that ever held something), by name. */
  owners(): string[] {
    const out: string[] = [];
    for (const key of this.accounts.keys()) if (key.startsWith('owner:')) out.push(key.slice(6));
    return out;
  }

  private scalar(key: string, now: number): number {
    if (this.cap.gpus > 0) return this.usage(key, now).gpus;
    return this.dominantShare(key, now);
  }

  private change(key: string, amount: Amount, sign: 1 | -1, now: number): void {
    this.version++;
    let a = this.accounts.get(key);
    if (!a) this.accounts.set(key, (a = { held: { ...ZERO }, hist: { ...ZERO }, at: now }));
    this.advance(a, now);
    a.held = {
      cpu: Math.max(0, a.held.cpu + sign * amount.cpu),
      memoryMiB: Math.max(0, a.held.memoryMiB + sign * amount.memoryMiB),
      gpus: Math.max(0, a.held.gpus + sign * amount.gpus),
    };
  }

  private advance(a: Account, now: number): void {
    if (now <= a.at) return;
    const d = this.decay(now - a.at);
    a.hist = {
      cpu: a.hist.cpu * d + a.held.cpu * (1 - d),
      memoryMiB: a.hist.memoryMiB * d + a.held.memoryMiB * (1 - d),
      gpus: a.hist.gpus * d + a.held.gpus * (1 - d),
    };
    a.at = now;
  }

  private decay(dt: number): number {
    return dt <= 0 ? 1 : Math.pow(2, -dt / this.halfLifeMs);
  }
}

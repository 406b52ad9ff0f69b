/**
 * Leases: every active allocation holds one; it ends at `leaseExpiresAt` unless renewed by heartbeat. Asks are cut
 * to the maximum, and a request that names none gets the default.
 */
import { Deadlines } from './deadlines.ts';

export interface LeaseOptions {
  /** lease of an allocation whose request asked for none @default 600000 (10 min) */
  defaultMs?: number;
  /** longest lease granted or renewed; longer asks are cut to it @default 86400000 (24 h) */
  maxMs?: number;
}

export class Leases extends Deadlines {
  readonly defaultMs: number;
  readonly maxMs: number;

  constructor(opts: LeaseOptions = {}) {
    super();
    this.defaultMs = opts.defaultMs ?? 600_000;
    this.maxMs = opts.maxMs ?? 86_400_000;
    if (!(this.defaultMs > 0) || !(this.maxMs > 0)) throw new Error(`lease default (${this.defaultMs} ms) and maximum (${this.maxMs} ms) must be > 0`);
    if (this.defaultMs > this.maxMs) throw new Error(`lease default (${this.defaultMs} ms) must not exceed the lease maximum (${this.maxMs} ms)`);
  }

  /** The length of a lease asked for as `ms` (undefined: the default), cut to the maximum. */
  lengthFor(ms: number | undefined): number {
    return Math.min(ms ?? this.defaultMs, this.maxMs);
  }
}

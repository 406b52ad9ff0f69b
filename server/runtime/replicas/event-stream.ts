/**
 * Push across hub replicas through one Redis stream (`--redis`): the leader appends every event it publishes
 * (`XADD <key> <id>-0 e <envelope>`, the stream trimmed to about `maxLen` entries), each follower reads the stream
 * (`XREAD BLOCK`) into its own hub with `hub.relay`. Stream ids are the hub's event ids, so every replica serves
 * the same event under the same id: a client resumes (Last-Event-ID, socket.io's lastId) on any replica. Both
 * transports of a follower (SSE and socket.io) are fed by its hub, one road as on the leader.
 *
 * Why a stream rather than @socket.io/redis-adapter: the adapter fans out socket.io broadcasts only — no SSE, no
 * ids, no replay — and is pub/sub, so a follower that was briefly disconnected (or Redis restarted) misses what was
 * sent meanwhile. A stream is a log: a follower that reconnects reads on from the last id it has, a new follower
 * fills its replay window from the stream's tail, and what is older than the stream is in the database's event
 * archive, which every replica reads.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../../log.ts';
import type { EventHub, StoredEvent } from '../../push/hub.ts';
import type { Envelope } from '../../../shared/events.ts';

/** The stream of one store's events (leader.ts storeId: replicas of other stores may share the Redis). */
export function streamKey(storeId: string): string {
  return `arbiter:${storeId}:events`;
}

export interface EventStreamOptions {
  url: string;
  /** streamKey(storeId) */
  key: string;
  /** entries kept in the stream (approximately) @default 10000 */
  maxLen?: number;
  log: Logger;
}

function connectRedis(url: string, log: Logger): Redis {
  const redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(100 * 2 ** n, 5000) });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) log.warn({ err: err.message }, 'redis unreachable; reconnecting');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info('redis reachable again');
    down = false;
  });
  return redis;
}

/** The leader's side: every event the hub publishes, appended to the stream in id order. */
export class EventStreamWriter {
  private readonly redis: Redis;
  private readonly key: string;
  private readonly maxLen: number;
  private detach: (() => void) | undefined;

  constructor(private readonly opts: EventStreamOptions) {
    this.redis = connectRedis(opts.url, opts.log);
    this.key = opts.key;
    this.maxLen = opts.maxLen ?? 10_000;
  }

  attach(hub: EventHub): void {
    this.detach = hub.subscribe((ev: StoredEvent) => {
      // queued by the client while Redis is away, sent in order when it is back
      this.redis.xadd(this.key, 'MAXLEN', '~', String(this.maxLen), `${ev.id}-0`, 'e', ev.json).catch((err: Error) => {
        this.opts.log.warn({ err: err.message, id: ev.id }, 'event not appended to the redis stream');
      });
    });
  }

  async close(): Promise<void> {
    this.detach?.();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** A follower's side: the stream's tail into the hub, then every new entry as it comes. */
export class EventStreamReader {
  private readonly redis: Redis;
  private readonly key: string;
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** the stream id read last ('0-0': from the start) */
  private last = '0-0';

  constructor(private readonly opts: EventStreamOptions & { backlog?: number }) {
    this.redis = connectRedis(opts.url, opts.log);
    this.key = opts.key;
  }

  /** Fill the hub with the stream's newest `backlog` entries, then follow. Resolves once the backlog is in. */
  async start(hub: EventHub): Promise<void> {
    const tail = (await this.redis.xrevrange(this.key, '+', '-', 'COUNT', this.opts.backlog ?? 1000)).reverse();
    for (const [id, fields] of tail) this.take(hub, id, fields);
    this.loop = this.follow(hub);
  }

  private async follow(hub: EventHub): Promise<void> {
    while (!this.stopped) {
      try {
        const got = await this.redis.xread('COUNT', 1000, 'BLOCK', 2000, 'STREAMS', this.key, this.last);
        for (const [, entries] of got ?? []) for (const [id, fields] of entries) this.take(hub, id, fields);
      } catch (err) {
        if (this.stopped) return;
        this.opts.log.warn({ err: (err as Error).message }, 'reading the redis event stream failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private take(hub: EventHub, id: string, fields: string[]): void {
    this.last = id;
    const i = fields.indexOf('e');
    if (i < 0) return;
    try {
      hub.relay(JSON.parse(fields[i + 1]!) as Envelope);
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'a redis stream entry is not an event; skipped');
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.redis.disconnect();
    await this.loop;
  }
}

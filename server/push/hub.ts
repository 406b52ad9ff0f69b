/**
 * The event hub: gives every event an id, keeps a replay window (count and age) and fans events out.
 * Ids strictly increase, also across restarts: the high-water mark lives in an `IdStore` (store/event-ids.ts). Ids
 * are reserved in blocks (one small write per block), and a clean shutdown records the exact next id, so after a
 * clean restart a client that had seen everything resumes without a reported gap.
 * What may be published is the contract of shared/events.ts: `publish(type, data)` takes the payload type of
 * `type`, and a type that is not in EVENT_PAYLOADS is refused (also at run time, for callers without types).
 */
import type { Clock } from '../clock.ts';
import { COALESCED_TYPES, coalesceKey, isEventType, type Envelope, type EventType, type Payload, type ReplayGap } from '../../shared/events.ts';
import { encodeSseFrame, type SseFormat } from './sse-frame.ts';

/** An envelope with its serialized forms, computed once and shared by every client. */
export class StoredEvent<T extends EventType = EventType> {
  private sseFrame: Buffer | undefined;
  private sseMessageFrame: Buffer | undefined;
  private jsonBytes: Buffer | undefined;
  readonly json: string;
  constructor(readonly env: Envelope<T>) {
    this.json = JSON.stringify(env);
  }
  get id(): number {
    return this.env.id;
  }
  get type(): T {
    return this.env.type;
  }
  /** The envelope's JSON as bytes (a plain WebSocket text message), encoded once for every client. */
  get bytes(): Buffer {
    return (this.jsonBytes ??= Buffer.from(this.json));
  }
  /** The SSE frame: `id:`, `event:`, one `data:` line with the whole envelope; encoded once for every client. */
  get sse(): Buffer {
    return (this.sseFrame ??= Buffer.from(encodeSseFrame({ id: this.env.id, event: this.env.type, data: this.json })));
  }
  /**
   * The unnamed SSE frame (the `message` format, for `EventSource.onmessage`): `id:` and one `data:` line with the
   * whole envelope, no `event:` line; encoded once for every client of that format.
   */
  get sseMessage(): Buffer {
    return (this.sseMessageFrame ??= Buffer.from(encodeSseFrame({ id: this.env.id, data: this.json })));
  }
  /** The frame of one SSE format. */
  sseFrameOf(format: SseFormat): Buffer {
    return format === 'message' ? this.sseMessage : this.sse;
  }
}

export interface IdStore {
  /** next id to hand out */
  load(): number;
  save(next: number): void;
}

/**
 * Durable copy of the events that must survive restarts (every type but the coalesced status snapshots): a client
 * that resumes after a restart, or from before the memory window, still gets every one it missed.
 */
export interface EventArchive {
  append(env: Envelope): void;
  /** stored envelopes with id > lastId of the given types, in id order */
  after(lastId: number, types: Iterable<EventType>, limit?: number): Envelope[];
  oldestId(): number | null;
  maxId(): number | null;
}

export interface HubOptions {
  clock: Clock;
  archive?: EventArchive;
  replayCount: number;
  replayMaxAgeMs: number;
  ids: IdStore;
  /** ids reserved per write of the high-water mark */
  idBlock?: number;
}

export type HubListener = (ev: StoredEvent) => void;

/** Ids per page of a replay (an archive read; at most what a client is handed before its transport must drain). */
export const REPLAY_PAGE = 256;

/** A replay: the gap notice to send first, if any, and its events page by page (empty: over). */
export interface Replay {
  /** the gap notice, if some events are lost to this client (may read the first page to say from where it goes on) */
  gap(): ReplayGap | undefined;
  next(): StoredEvent[];
}

/**
 * Archive blocks decoded into StoredEvents (their JSON and frames encoded once), least recently used first out
 * past `maxBytes` of JSON: clients resuming from the same region share them.
 */
class BlockCache {
  private readonly blocks = new Map<string, { events: StoredEvent[]; bytes: number }>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** The events of `types` with ids in block `block` (up to `hi`); kept when `complete` (it cannot change). */
  get(archive: EventArchive, block: number, types: readonly EventType[], hi: number, complete: boolean): StoredEvent[] {
    const key = `${block}|${types.join(',')}`;
    const hit = this.blocks.get(key);
    if (hit) {
      this.blocks.delete(key);
      this.blocks.set(key, hit);
      return hit.events;
    }
    const events = archive.after(block * REPLAY_PAGE, types, REPLAY_PAGE).filter((env) => env.id <= hi).map((env) => new StoredEvent(env));
    if (complete) {
      const bytes = events.reduce((n, e) => n + e.json.length, 0);
      this.blocks.set(key, { events, bytes });
      this.bytes += bytes;
      for (const [k, v] of this.blocks) {
        if (this.bytes <= this.maxBytes) break;
        this.blocks.delete(k);
        this.bytes -= v.bytes;
      }
    }
    return events;
  }
}

/** JSON bytes of archive blocks kept decoded for replays. */
export const REPLAY_CACHE_BYTES = 32 * 2 ** 20;

/** An array handed out page by page. */
export function pages(events: readonly StoredEvent[], size = REPLAY_PAGE): () => StoredEvent[] {
  let i = 0;
  return () => {
    const page = events.slice(i, i + size);
    i += page.length;
    return page;
  };
}

export class EventHub {
  private nextId: number;
  /** the id of the last event relayed (a follower replica's hub) */
  private relayedUpTo = 0;
  private closed = false;
  private reservedUntil: number;
  private readonly idBlock: number;
  /** replay window, oldest first; a ring of `replayCount` slots */
  private readonly ring: (StoredEvent | undefined)[];
  private head = 0;
  private size = 0;
  private readonly listeners = new Set<HubListener>();
  /** events published inside `held()`, waiting for its end */
  private holding: StoredEvent[] | null = null;
  /** the newest event of each coalesce key: one status snapshot per node, one event per other coalesced type */
  private readonly latestByKey = new Map<string, StoredEvent>();
  private readonly counts = new Map<EventType, number>();
  /** archive blocks being replayed, shared by the clients that replay them */
  private readonly blocks = new BlockCache(REPLAY_CACHE_BYTES);

  constructor(private readonly opts: HubOptions) {
    this.idBlock = opts.idBlock ?? 10_000;
    // never below what the archive already holds (an id file lost or older than the database)
    this.nextId = Math.max(opts.ids.load(), (opts.archive?.maxId() ?? 0) + 1);
    this.reservedUntil = this.nextId;
    this.ring = new Array(opts.replayCount);
  }

  get lastId(): number {
    return this.nextId - 1;
  }

  /** Publish an event of a type of the contract; undefined after close. */
  publish<T extends EventType>(type: T, data: Payload<T>): StoredEvent<T> | undefined {
    if (!isEventType(type)) {
      throw new TypeError(`cannot publish event type ${JSON.stringify(type)}: it has no payload schema in EVENT_PAYLOADS (shared/events.ts)`);
    }
    // after close (a sample still in flight at shutdown): nothing is published and the next id stays as saved
    if (this.closed) return undefined;
    if (this.nextId >= this.reservedUntil) {
      this.reservedUntil = this.nextId + this.idBlock;
      this.opts.ids.save(this.reservedUntil);
    }
    const ev = new StoredEvent<T>({ id: this.nextId++, type, ts: this.opts.clock.now(), data });
    this.keep(ev);
    return ev;
  }

  /**
   * An event another hub published (the leader replica's, relayed through Redis): kept and fanned out with its own
   * id, not archived again (the publisher archived it in the database the replicas share). Ids at or below the last
   * one relayed are duplicates and ignored; returns whether it was taken.
   */
  relay(env: Envelope): boolean {
    if (this.closed || env.id <= this.relayedUpTo) return false;
    this.relayedUpTo = env.id;
    if (env.id >= this.nextId) this.nextId = env.id + 1;
    this.keep(new StoredEvent(env), false);
    return true;
  }

  /**
   * Run `fn` (a database transaction that publishes) with the fan-out held: what it publishes is archived (in that
   * transaction), kept in the window and counted at once, but reaches the transports only once `fn` has returned —
   * i.e. once the transaction committed: no client is shown an event, or the change it tells of, that a crash between
   * the two would undo. `fn` runs synchronously, so nothing can subscribe in between (no event twice, none skipped).
   */
  held<R>(fn: () => R): R {
    if (this.holding) return fn();
    this.holding = [];
    try {
      return fn();
    } finally {
      const evs = this.holding;
      this.holding = null;
      for (const ev of evs) for (const l of this.listeners) l(ev);
    }
  }

  /** Archive, keep in the window, count and fan out a new event (later, when held). */
  private keep(ev: StoredEvent, archive = true): void {
    if (archive && this.opts.archive && !COALESCED_TYPES.has(ev.type)) this.opts.archive.append(ev.env);
    const cap = this.ring.length;
    this.ring[(this.head + this.size) % cap] = ev;
    if (this.size < cap) this.size++;
    else this.head = (this.head + 1) % cap;
    this.trimByAge();
    const key = coalesceKey(ev.env);
    if (key !== undefined) this.latestByKey.set(key, ev);
    this.counts.set(ev.type, (this.counts.get(ev.type) ?? 0) + 1);
    if (this.holding) this.holding.push(ev);
    else for (const l of this.listeners) l(ev);
  }

  subscribe(listener: HubListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The newest event of a coalesced type, whichever node it came from; undefined for the other types. */
  latest(type: EventType): StoredEvent | undefined {
    return this.latestOf(new Set([type])).at(-1);
  }

  /**
   * The newest event of each coalesce key among `types` (a status snapshot per node), in id order: what a new
   * client is shown at once.
   */
  latestOf(types: ReadonlySet<EventType>): StoredEvent[] {
    const out = [...this.latestByKey.values()].filter((ev) => types.has(ev.type));
    return out.sort((a, b) => a.id - b.id);
  }

  /**
   * What a relaying hub starts from (a push worker's): the replay window and the newest event of each coalesce key,
   * in id order, each once.
   */
  backlog(): StoredEvent[] {
    this.trimByAge();
    const byId = new Map<number, StoredEvent>();
    for (const ev of this.latestByKey.values()) byId.set(ev.id, ev);
    for (const ev of this.window()) byId.set(ev.id, ev);
    return [...byId.values()].sort((a, b) => a.id - b.id);
  }

  published(): Map<EventType, number> {
    return new Map(this.counts);
  }

  /**
   * Events after `lastEventId` of the given types, read page by page (`next()`), so that a client far behind costs
   * one page at a time, as fast as it reads, not the whole of what it missed at once. From the memory window when
   * it reaches back far enough; else the archived types come from the archive, and status snapshots from the window
   * only (older ones are not kept). Whatever cannot be served any more is reported as a gap (`gap()`, to send before
   * the first event); the events go on from the oldest kept. The replay ends at the last event published when it
   * was asked for: the caller takes the live ones after it (subscribing in the same tick). Archive pages are blocks
   * of REPLAY_PAGE ids, decoded once and shared by every client that replays them (BlockCache).
   */
  replayFrom(lastEventId: number, types: ReadonlySet<EventType>): Replay {
    this.trimByAge();
    const window = this.window();
    const oldestId = window[0]?.id ?? null;
    const upTo = this.lastId;
    if (lastEventId > upTo) {
      const gap: ReplayGap = { lastEventId, oldestId, reason: 'ahead_of_server' };
      return { gap: () => gap, next: pages(window.filter((e) => types.has(e.type))) };
    }
    const fromWindow = window.filter((e) => e.id > lastEventId && types.has(e.type));
    const inWindow = lastEventId >= upTo || (oldestId !== null && lastEventId + 1 >= oldestId);
    if (inWindow) return { gap: () => undefined, next: pages(fromWindow) };

    const archive = this.opts.archive;
    if (!archive) {
      const gap: ReplayGap = { lastEventId, oldestId, reason: 'out_of_window' };
      return { gap: () => gap, next: pages(window.filter((e) => types.has(e.type))) };
    }
    const archivedTypes = [...types].filter((t) => !COALESCED_TYPES.has(t)).sort();
    const archiveOldest = archive.oldestId();
    // blocks wholly in the archive do not change: those are cached
    const complete = Math.min(upTo, archive.maxId() ?? 0);
    // archive blocks up to `upTo`, merged in id order with the window's events of those ids (status snapshots, and
    // a relayed event the archive does not hold yet)
    let cursor = lastEventId;
    let w = 0;
    const read = (): StoredEvent[] => {
      while (cursor < upTo) {
        const block = Math.floor(cursor / REPLAY_PAGE);
        const hi = Math.min((block + 1) * REPLAY_PAGE, upTo);
        const byId = new Map<number, StoredEvent>();
        if (archivedTypes.length) {
          for (const e of this.blocks.get(archive, block, archivedTypes, hi, (block + 1) * REPLAY_PAGE <= complete)) if (e.id > cursor) byId.set(e.id, e);
        }
        for (; w < fromWindow.length && fromWindow[w]!.id <= hi; w++) byId.set(fromWindow[w]!.id, fromWindow[w]!);
        cursor = hi;
        if (byId.size) return [...byId.values()].sort((a, b) => a.id - b.id);
      }
      return [];
    };
    // lost: status snapshots older than the window, or archived events trimmed away
    const statusLost = archivedTypes.length < types.size;
    const trimmed = archiveOldest !== null && lastEventId + 1 < archiveOldest && archivedTypes.length > 0;
    let first: StoredEvent[] | null = null;
    let gap: ReplayGap | undefined;
    let gapKnown = !(statusLost || trimmed);
    return {
      gap: () => {
        if (!gapKnown) {
          gapKnown = true;
          first = read();
          gap = { lastEventId, oldestId: first[0]?.id ?? oldestId, reason: 'out_of_window' };
        }
        return gap;
      },
      next: () => {
        if (!first) return read();
        const page = first;
        first = null;
        return page;
      },
    };
  }

  /** Write the exact next id so a clean restart continues without a jump. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.opts.ids.save(this.nextId);
    this.reservedUntil = this.nextId;
    this.listeners.clear();
  }

  private window(): StoredEvent[] {
    const out: StoredEvent[] = [];
    const cap = this.ring.length;
    for (let i = 0; i < this.size; i++) out.push(this.ring[(this.head + i) % cap]!);
    return out;
  }

  private trimByAge(): void {
    const cutoff = this.opts.clock.now() - this.opts.replayMaxAgeMs;
    const cap = this.ring.length;
    while (this.size > 0 && this.ring[this.head]!.env.ts < cutoff) {
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % cap;
      this.size--;
    }
  }
}

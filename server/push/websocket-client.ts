/**
 * One plain WebSocket client: its types, its backfill and resumes (backfill.ts, the hub's replay), its live events
 * through the slow-client policy (slow-client.ts), and what it asks for in its messages (shared/websocket.ts).
 * Every event goes out as the envelope's JSON, one text message, encoded once for every client.
 */
import type { WebSocket } from 'ws';
import { REPLAY_GAP_EVENT, isEventType, type EventType, type ReplayGap } from '../../shared/events.ts';
import { WS_CLOSE, WsClientMessageSchema, type WsControlMessage } from '../../shared/websocket.ts';
import { fieldProblems, problemsText } from '../errors.ts';
import { backfill, subscribedTypes, type Subscription } from './backfill.ts';
import type { EventHub, StoredEvent } from './hub.ts';
import { WS_HIGH_WATER_BYTES } from './protocol.ts';
import { SlowClientPolicy } from './slow-client.ts';

/** Longest client message taken (a subscription to every type is far shorter). */
export const WS_MAX_CLIENT_MESSAGE_BYTES = 16 * 1024;

export class WsClient {
  private types: Set<EventType>;
  private readonly policy: SlowClientPolicy;
  /** sends not yet handed to the operating system; when the last one is, a congested client drains */
  private pending = 0;
  /** answered the last ping (the heartbeat drops a client that has not by the next one) */
  alive = true;
  /** every event after this id of the client's types was (or is being) delivered live */
  private readonly liveFrom: number;
  /** events up to liveFrom already sent on this connection: all after `replayedFrom`, and those in `backfilled` */
  private replayedFrom: number;
  private readonly backfilled = new Set<number>();

  constructor(
    readonly ws: WebSocket,
    private readonly hub: EventHub,
    sub: Subscription,
    maxBufferedEvents: number,
    /** the client was cut off (too slow); the server forgets it */
    private readonly dropped: (c: WsClient) => void,
    /** handling a message of the client's threw: told once, the connection is closed (1011) */
    private readonly failed: (err: unknown) => void,
  ) {
    this.types = subscribedTypes(sub.types);
    this.policy = new SlowClientPolicy({
      busy: () => ws.bufferedAmount > WS_HIGH_WATER_BYTES,
      write: (ev) => this.send(ev.bytes),
      disconnect: () => {
        this.dropped(this);
        ws.close(WS_CLOSE.tooSlow, `too slow: more than ${maxBufferedEvents} events waiting`);
      },
    }, maxBufferedEvents);
    // the caller adds the client to the fan-out in this same tick: nothing published in between is missed or doubled
    this.liveFrom = hub.lastId;
    this.replayedFrom = sub.lastEventId ?? hub.lastId;
    const gap = (g: ReplayGap) => this.control({ type: REPLAY_GAP_EVENT, data: g });
    backfill(hub, this.types, sub.lastEventId, this.policy, gap, sub.lastEventId === undefined ? (ev) => this.backfilled.add(ev.id) : undefined);
    ws.on('close', () => this.policy.close());
    // the one boundary of this client's messages: a throw would leave ws's reader stuck mid-frame, reading nothing more
    ws.on('message', (data, isBinary) => {
      try {
        this.onMessage(isBinary ? null : data.toString());
      } catch (err) {
        this.policy.close();
        this.dropped(this);
        ws.close(WS_CLOSE.internalError, 'internal error: reconnect and resume');
        this.failed(err);
      }
    });
    ws.on('pong', () => {
      this.alive = true;
    });
  }

  /** A live event from the hub. */
  deliver(ev: StoredEvent): void {
    if (this.types.has(ev.type)) this.policy.deliver(ev);
  }

  private send(data: Buffer | string): void {
    this.pending++;
    // text frames (the envelope's bytes are its UTF-8 JSON): a browser's onmessage gets a string, not a Blob
    this.ws.send(data, { binary: false }, () => {
      if (--this.pending === 0) this.policy.drain();
    });
  }

  private control(msg: WsControlMessage): void {
    this.send(JSON.stringify(msg));
  }

  private error(message: string, unknownTypes?: string[]): void {
    this.control({ type: 'error', data: { message, ...(unknownTypes ? { unknownTypes } : {}) } });
  }

  private onMessage(text: string | null): void {
    if (text === null) return this.error('send JSON text messages: {"subscribe": [types]} or {"resume": lastId}');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.error('not JSON: send {"subscribe": [types]} or {"resume": lastId}');
    }
    const parsed = WsClientMessageSchema.safeParse(json);
    if (!parsed.success) return this.error(`expected {"subscribe": [types]} or {"resume": lastId}: ${problemsText(fieldProblems(parsed.error))}`);
    const msg = parsed.data;
    if ('subscribe' in msg) this.subscribe(msg.subscribe);
    else this.resume(msg.resume);
  }

  /** Take exactly these types from now on (none: all); with an unknown name the subscription stays as it was. */
  private subscribe(names: string[]): void {
    const unknown = [...new Set(names.filter((t) => !isEventType(t)))];
    if (unknown.length) return this.error(`unknown event types: ${unknown.join(', ')}; the subscription is unchanged`, unknown);
    this.types = subscribedTypes(names.filter(isEventType));
    this.control({ type: 'subscribed', data: { types: [...this.types] } });
  }

  /**
   * The events of the client's types after `lastId` that this connection has not sent yet, in id order, with the
   * gap first when some are lost to it (as a reconnecting SSE client's Last-Event-ID). Live events go on meanwhile.
   */
  private resume(lastId: number): void {
    const replay = this.hub.replayFrom(lastId, this.types);
    // sent already: those after what was replayed before (but for the latest statuses of the backfill), and the live ones
    const before = this.replayedFrom;
    const unsent = (ev: StoredEvent) => ev.id <= this.liveFrom && ev.id <= before && !this.backfilled.has(ev.id);
    const next = () => {
      for (let page = replay.next(); page.length; page = replay.next()) {
        const out = page.filter(unsent);
        if (out.length) return out;
      }
      return [];
    };
    this.policy.backfill(next, () => {
      const gap = replay.gap();
      if (gap) this.control({ type: REPLAY_GAP_EVENT, data: gap });
    });
    this.replayedFrom = Math.min(this.replayedFrom, lastId);
  }
}

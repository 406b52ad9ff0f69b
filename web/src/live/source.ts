/**
 * What the live connection offers the UI (LiveSource, LiveSnapshot) and what it asks of a transport: the types
 * shared by connection.ts, feed.ts, transports.ts and the views' stores.
 */
import type { Envelope, EventType, ReplayGap, SocketAuth } from '../../../shared/events.ts';
import type { NodesSnapshot } from './nodes.ts';

/** The latest envelope of each type (the payload types are the push contract's, shared/events.ts). */
export type LatestEnvelopes = { [K in EventType]?: Envelope<K> };
export type EnvelopeListener<K extends EventType> = (envs: readonly Envelope<K>[]) => void;

export type TransportKind = 'websocket' | 'sse';

export type ConnectionState =
  /** an attempt is under way */
  | { kind: 'connecting'; transport: TransportKind }
  /** events are flowing over `transport` */
  | { kind: 'live'; transport: TransportKind }
  /** waiting until `retryAt` (epoch ms) before the next attempt */
  | { kind: 'reconnecting'; retryAt: number; attempt: number }
  /** the server answered 401: the user must open the URL printed at start-up */
  | { kind: 'unauthenticated' }
  | { kind: 'stopped' };

export interface LiveSnapshot {
  readonly state: ConnectionState;
  /** highest envelope id seen (0: none yet) */
  readonly lastEventId: number;
  /** latest envelope per type (resource_status: the home node's); a status fetched over REST has id 0 */
  readonly latest: LatestEnvelopes;
  /** how many replay gaps the server reported (events lost to this client) */
  readonly gaps: number;
  readonly lastGap: ReplayGap | null;
}

/** What the UI needs from a live source (LiveConnection, or a stand-in in tests). */
export interface LiveSource {
  subscribe(listener: () => void): () => void;
  getSnapshot(): LiveSnapshot;
  /** every node's latest resource_status and which node is home; notified at most once per frame, when it changed */
  subscribeNodes(listener: () => void): () => void;
  getNodes(): NodesSnapshot;
  /**
   * called once per frame with every new envelope of `type` since the last frame, oldest first (resource_status:
   * the home node's only)
   */
  onEnvelopes<K extends EventType>(type: K, listener: EnvelopeListener<K>): () => void;
  /** called when the server reports a replay gap (after the frame's envelopes) */
  onGap(listener: (gap: ReplayGap) => void): () => void;
  /** skip the countdown (or try again after a 401) */
  retryNow(): void;
}

export interface TransportHandlers {
  open(): void;
  envelope(env: unknown): void;
  gap(gap: ReplayGap): void;
  /** could not connect, or the connection was lost */
  fail(detail: string): void;
}
export interface TransportOptions {
  types: readonly EventType[];
  /** socket.io `auth` payload, read at every (re)connect */
  auth(): SocketAuth;
  /** where to resume (undefined: send the latest first) */
  lastEventId(): number | undefined;
}
export interface TransportHandle {
  close(): void;
}
export type TransportFactory = (opts: TransportOptions, handlers: TransportHandlers) => TransportHandle;

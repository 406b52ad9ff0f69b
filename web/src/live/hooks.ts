/** React bindings for a LiveSource: the snapshot via useSyncExternalStore (re-renders at most once per frame). */
import { createContext, useCallback, useContext, useEffect, useLayoutEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { Envelope, EventType } from '../../../shared/events.ts';
import type { LiveSnapshot, LiveSource } from './source.ts';
import type { NodesSnapshot } from './nodes.ts';

export const LiveContext = createContext<LiveSource | null>(null);

export function useLiveSource(): LiveSource {
  const source = useContext(LiveContext);
  if (!source) throw new Error('useLiveSource() outside <LiveContext.Provider>');
  return source;
}

export function useLiveSnapshot(): LiveSnapshot {
  const source = useLiveSource();
  return useSyncExternalStore(source.subscribe, source.getSnapshot, source.getSnapshot);
}

/** Every node's latest snapshot and the home node (re-renders when any node's snapshot changes, once per frame). */
export function useNodes(): NodesSnapshot {
  const source = useLiveSource();
  return useSyncExternalStore(source.subscribeNodes, source.getNodes, source.getNodes);
}

/** Every new envelope of `type`, batched per frame, without re-rendering (for charts that draw imperatively). */
export function useEnvelopes<K extends EventType>(type: K, listener: (envs: readonly Envelope<K>[]) => void): void {
  const source = useLiveSource();
  const ref = useRef(listener);
  useLayoutEffect(() => {
    ref.current = listener;
  });
  useEffect(() => source.onEnvelopes(type, (envs) => ref.current(envs)), [source, type]);
}

/** The current time, refreshed every `everyMs` while `active` (for countdowns). */
export function useNow(everyMs: number, active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs, active]);
  return now;
}

interface Ticker {
  now: number;
  subs: Set<() => void>;
  timer: ReturnType<typeof setInterval> | null;
}
const tickers = new Map<number, Ticker>();

function subscribeTicker(everyMs: number, fn: () => void): () => void {
  let t = tickers.get(everyMs);
  if (!t) tickers.set(everyMs, (t = { now: Date.now(), subs: new Set(), timer: null }));
  const ticker = t;
  ticker.subs.add(fn);
  if (ticker.timer === null) {
    ticker.now = Date.now();
    ticker.timer = setInterval(() => {
      ticker.now = Date.now();
      for (const s of ticker.subs) s();
    }, everyMs);
  }
  return () => {
    ticker.subs.delete(fn);
    if (ticker.subs.size === 0) {
      if (ticker.timer !== null) clearInterval(ticker.timer);
      tickers.delete(everyMs);
    }
  };
}

/**
 * The current time, refreshed every `everyMs` by one timer shared by every component that asks for the same
 * period (a queue of many rows with ticking waits runs one interval, and they all tick in the same render).
 */
export function useSharedNow(everyMs: number): number {
  const subscribe = useCallback((fn: () => void) => subscribeTicker(everyMs, fn), [everyMs]);
  const get = useCallback(() => tickers.get(everyMs)?.now ?? Date.now(), [everyMs]);
  return useSyncExternalStore(subscribe, get, get);
}

/** React bindings for a LiveSource: the snapshot via useSyncExternalStore (re-renders at most once per frame). */
import { createContext, useContext, useEffect, useLayoutEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { EventType } from '../../../shared/events.ts';
import type { LiveSnapshot, LiveSource, TypedEnvelope } from './connection.ts';

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

/** Every new envelope of `type`, batched per frame, without re-rendering (for charts that draw imperatively). */
export function useEnvelopes<K extends EventType>(type: K, listener: (envs: readonly TypedEnvelope<K>[]) => void): void {
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

/** React bindings of the FeedStore. */
import { createContext, useContext, useSyncExternalStore } from 'react';
import type { FeedSnapshot, FeedStore } from './feed.ts';

export const FeedContext = createContext<FeedStore | null>(null);

export function useFeedStore(): FeedStore {
  const store = useContext(FeedContext);
  if (!store) throw new Error('feed hooks outside <FeedContext.Provider>');
  return store;
}

export function useFeed(): FeedSnapshot {
  const store = useFeedStore();
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { EVENT_TYPES } from '../../shared/names.ts';
import { App } from './App.tsx';
import { fetchHealth, fetchStatus } from './lib/api.ts';
import { LiveConnection } from './live/connection.ts';
import { requestFrame } from './live/feed.ts';
import { socketIoTransport, sseTransport } from './live/transports.ts';
import './styles.css';
import './views.css';

const connection = new LiveConnection(
  {
    websocket: socketIoTransport,
    sse: sseTransport,
    fetchStatus: () => fetchStatus(),
    fetchHealth: () => fetchHealth(),
    now: () => Date.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    requestFrame,
    random: Math.random,
    log: import.meta.env.DEV ? (m) => console.debug(m) : undefined,
  },
  { types: EVENT_TYPES },
);
connection.start();

// back online or back to the tab: do not wait out the countdown
addEventListener('online', () => connection.retryNow());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') connection.retryNow();
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App source={connection} />
  </StrictMode>,
);

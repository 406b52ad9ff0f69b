/** The real transports behind LiveConnection: socket.io (WebSocket only) and EventSource. Same origin; the cookie authenticates. */
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, Envelope, ReplayGap, ServerToClientEvents } from '../../../shared/events.ts';
import { REPLAY_GAP, isReplayGap } from './protocol.ts';
import type { TransportFactory } from './source.ts';

/** socket.io at /socket.io; one attempt per call (no built-in reconnection: LiveConnection decides when and how). */
export const socketIoTransport: TransportFactory = (opts, h) => {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io({
    path: '/socket.io',
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 5000,
    // a function, so every connect sends the latest id seen and the server replays exactly what was missed
    auth: (cb) => cb(opts.auth()),
  });
  // A WebSocket closed cleanly before the handshake (some proxies do that) reaches neither connect_error nor
  // disconnect until the timeout: watch the engine itself. A second report of the same attempt is ignored.
  socket.io.engine?.on('close', (reason: string) => {
    if (!socket.connected) h.fail(`engine closed before connecting: ${reason}`);
  });
  socket.on('connect', () => h.open());
  socket.on('connect_error', (err) => h.fail(`connect_error: ${err.message}`));
  socket.on('disconnect', (reason) => {
    if (reason !== 'io client disconnect') h.fail(`disconnect: ${reason}`);
  });
  socket.on(REPLAY_GAP, (gap: ReplayGap) => h.gap(gap));
  // each envelope arrives as the socket.io event named by its type
  for (const type of opts.types) socket.on(type, (env: Envelope) => h.envelope(env));
  return {
    close() {
      socket.removeAllListeners();
      socket.disconnect();
    },
  };
};

/** GET /api/events as an EventSource; resumes from our last id via `lastEventId` (we reconnect ourselves). */
export const sseTransport: TransportFactory = (opts, h) => {
  const q = new URLSearchParams({ types: opts.types.join(',') });
  const last = opts.lastEventId();
  if (last !== undefined) q.set('lastEventId', String(last));
  const es = new EventSource(`/api/events?${q.toString()}`);
  let failed = false;
  const parse = (ev: MessageEvent<string>): unknown => {
    try {
      return JSON.parse(ev.data) as unknown;
    } catch {
      return undefined;
    }
  };
  es.onopen = () => h.open();
  es.onerror = () => {
    // the browser would retry by itself; LiveConnection owns retries (countdown, fallback order), so report and stop
    if (failed) return;
    failed = true;
    h.fail(es.readyState === EventSource.CLOSED ? 'event stream refused' : 'event stream error');
  };
  for (const type of opts.types) es.addEventListener(type, (ev) => h.envelope(parse(ev)));
  es.addEventListener(REPLAY_GAP, (ev) => {
    const gap = parse(ev);
    if (isReplayGap(gap)) h.gap(gap);
  });
  return { close: () => es.close() };
};

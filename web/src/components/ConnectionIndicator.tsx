import type { ConnectionState } from '../live/source.ts';
import { useNow } from '../live/hooks.ts';

export function connectionLabel(state: ConnectionState, now: number): string {
  switch (state.kind) {
    case 'live':
      return state.transport === 'websocket' ? 'WebSocket live' : 'SSE fallback';
    case 'connecting':
      return 'connecting';
    case 'reconnecting':
      return `reconnecting (in ${Math.max(0, Math.ceil((state.retryAt - now) / 1000))}s)`;
    case 'unauthenticated':
      return 'not authenticated';
    case 'stopped':
      return 'stopped';
  }
}

const VARIANT: Record<ConnectionState['kind'], string> = {
  live: 'ok',
  connecting: 'pending',
  reconnecting: 'pending',
  unauthenticated: 'bad',
  stopped: 'bad',
};

/** WebSocket live / SSE fallback / reconnecting (in Ns) / connecting. */
export interface ConnectionIndicatorProps {
  state: ConnectionState;
  /** highest envelope id seen, shown in the tooltip and as data-last-event-id (diagnostics, tests) */
  lastEventId?: number;
  onRetry?: () => void;
}

export function ConnectionIndicator({ state, lastEventId, onRetry }: ConnectionIndicatorProps) {
  const reconnecting = state.kind === 'reconnecting';
  const now = useNow(250, reconnecting);
  const variant = state.kind === 'live' && state.transport === 'sse' ? 'fallback' : VARIANT[state.kind];
  const title =
    state.kind === 'connecting'
      ? `connecting over ${state.transport === 'websocket' ? 'WebSocket' : 'SSE'}`
      : state.kind === 'live' && state.transport === 'sse'
        ? 'WebSocket unavailable: receiving over Server-Sent Events; will try the WebSocket again'
        : undefined;
  const tooltip = [title, lastEventId ? `last event #${lastEventId}` : undefined].filter(Boolean).join(' · ') || undefined;
  const label = connectionLabel(state, now);
  // screen readers hear the state (a live region); the seconds of the countdown are not announced
  const main = reconnecting ? 'reconnecting' : label;
  const rest = label.slice(main.length);
  return (
    <div className={`conn conn-${variant}`}>
      <span className="conn-dot" aria-hidden="true" />
      {/* the test id holds exactly the label: "WebSocket live", "SSE fallback", "reconnecting (in 3s)", "connecting" */}
      <span className="conn-label" data-testid="connection"
        data-state={state.kind}
        data-last-event-id={lastEventId ?? 0}
        title={tooltip}
      >
        <span role="status">{main}</span>
        {rest ? <span aria-hidden="true">{rest}</span> : null}
      </span>
      {reconnecting && onRetry ? (
        <button type="button" className="link-button" onClick={onRetry}>
          retry now
        </button>
      ) : null}
    </div>
  );
}

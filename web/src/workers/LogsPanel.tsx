import { useEffect, useId, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import { errorMessage } from '../lib/api.ts';
import { formatClock } from '../lib/format.ts';
import { useWorkersContext } from './hooks.ts';

/** lines asked for */
export const LOG_TAIL = 200;
/** while the worker is live and the panel open, its output is read again this long after the last answer */
export const LOG_REFRESH_MS = 2000;

interface LogsState {
  lines: readonly string[] | null;
  error: string | null;
  /** when the lines were read (page clock) */
  at: number | null;
  loading: boolean;
}

interface LogsPanelProps {
  workerId: string;
  /** the worker has not ended: its output is read again every LOG_REFRESH_MS */
  live: boolean;
  /** it waits for its grant (no output yet, and none expected) */
  waiting?: boolean;
  /** the panel's element id */
  id: string;
  /** without it the panel has no Close (its container closes it) */
  onClose?: () => void;
}

/**
 * A worker's output (`GET /api/workers/{id}/logs?tail=200`): monospace, kept scrolled to the newest line (unless the
 * reader scrolled up), read again every LOG_REFRESH_MS while the worker is live, once more when it ends, and on
 * Refresh. Escape or Close closes it. Shown for a replica in the Workers view and for a job in the Workflows view.
 */
export function LogsPanel({ workerId, live, waiting = false, id, onClose }: LogsPanelProps) {
  const { api, timers } = useWorkersContext();
  const headingId = useId();
  const [state, setState] = useState<LogsState>({ lines: null, error: null, at: null, loading: true });
  const [asked, setAsked] = useState(0);
  const pre = useRef<HTMLPreElement>(null);
  /** the reader is at the newest line: keep it there */
  const atEnd = useRef(true);

  useEffect(() => {
    let cancelled = false;
    let timer: unknown = null;
    const read = () => {
      timer = null;
      setState((s) => ({ ...s, loading: true }));
      const next = () => {
        if (live && !cancelled) timer = timers.setTimeout(read, LOG_REFRESH_MS);
      };
      api.logs(workerId, LOG_TAIL).then(
        (answer) => {
          if (cancelled) return;
          setState({ lines: Array.isArray(answer?.lines) ? answer.lines : [], error: null, at: timers.now(), loading: false });
          next();
        },
        (err: unknown) => {
          if (cancelled) return;
          setState((s) => ({ ...s, error: errorMessage(err), loading: false }));
          next();
        },
      );
    };
    read();
    return () => {
      cancelled = true;
      if (timer !== null) timers.clearTimeout(timer);
    };
    // `asked`: Refresh reads now (and starts the interval again)
  }, [api, timers, workerId, live, asked]);

  useLayoutEffect(() => {
    const el = pre.current;
    if (el && atEnd.current) el.scrollTop = el.scrollHeight;
  }, [state.lines]);

  const onScroll = () => {
    const el = pre.current;
    if (el) atEnd.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape' && onClose) {
      e.stopPropagation();
      onClose();
    }
  };
  const lines = state.lines;
  return (
    <section className="worker-logs" id={id} aria-labelledby={headingId} onKeyDown={onKeyDown} data-testid="worker-logs" data-worker-id={workerId}>
      <header className="worker-logs-head">
        <h4 id={headingId}>
          Output of <code>{workerId}</code>
        </h4>
        <span className="muted worker-logs-meta" data-testid="logs-meta" aria-live="polite">
          {state.loading && lines === null ? 'reading…' : lines === null ? '' : `${lines.length === LOG_TAIL ? `last ${LOG_TAIL} lines` : `${lines.length} line${lines.length === 1 ? '' : 's'}`}`}
          {state.at !== null ? ` · read at ${formatClock(state.at)}` : ''}
          {live ? ` · refreshed every ${LOG_REFRESH_MS / 1000} s` : ' · ended'}
        </span>
        <div className="row-actions">
          <button type="button" onClick={() => setAsked((n) => n + 1)} disabled={state.loading} data-testid="logs-refresh">
            Refresh
          </button>
          {onClose ? (
            <button type="button" onClick={onClose} data-testid="logs-close">
              Close
            </button>
          ) : null}
        </div>
      </header>
      {state.error ? (
        <p className="row-problem" role="alert" data-testid="logs-error">
          The output could not be read: {state.error}
        </p>
      ) : null}
      {lines !== null && lines.length === 0 ? (
        <p className="muted" data-testid="logs-empty">
          {waiting ? 'No output: it has not started.' : 'No output yet.'}
        </p>
      ) : (
        // a scrolling region: focusable, so the keyboard scrolls it too
        <pre ref={pre} className="log-lines" tabIndex={0} onScroll={onScroll} aria-labelledby={headingId} data-testid="log-lines">
          {lines?.join('\n') ?? ''}
        </pre>
      )}
    </section>
  );
}

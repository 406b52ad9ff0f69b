import { useEffect, useRef, useState } from 'react';
import type { WorkflowSummary } from '../../../shared/workflows.ts';
import { useWorkflowsContext } from './hooks.ts';
import { canCancel, canRetry } from './states.ts';
import type { OpenedView } from './store.ts';

/**
 * Cancel (confirmed inline: its running jobs are stopped) and Retry (the failed and skipped jobs run again) of the
 * open workflow; each offered while it applies, disabled while one is under way; the server's refusal inline.
 */
export function WorkflowActions({ summary, opened }: { summary: WorkflowSummary; opened: OpenedView }) {
  const { store } = useWorkflowsContext();
  const [confirming, setConfirming] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const wasConfirming = useRef(false);
  useEffect(() => {
    if (confirming) confirmRef.current?.focus();
    else if (wasConfirming.current) cancelRef.current?.focus();
    wasConfirming.current = confirming;
  }, [confirming]);
  const busy = opened.acting !== null;
  const running = summary.counts.RUNNING ?? 0;
  const cancel = canCancel(summary);
  const retry = canRetry(summary);
  return (
    <div className="workflow-actions" data-testid="workflow-actions">
      {confirming && cancel ? (
        <div className="confirm-delete" role="group" aria-label="Cancel this workflow?" data-testid="cancel-confirmation" onKeyDown={(e) => e.key === 'Escape' && setConfirming(false)}>
          <span>
            Cancel every job not ended{running > 0 ? ` (${running} running ${running === 1 ? 'is' : 'are'} stopped)` : ''}?
          </span>
          <button
            type="button"
            className="danger"
            ref={confirmRef}
            data-testid="cancel-confirm"
            onClick={() => {
              setConfirming(false);
              void store.act('cancel');
            }}
          >
            Cancel workflow
          </button>
          <button type="button" onClick={() => setConfirming(false)} data-testid="cancel-keep">
            Keep it running
          </button>
        </div>
      ) : (
        <>
          {cancel ? (
            <button type="button" className="danger" ref={cancelRef} disabled={busy} onClick={() => setConfirming(true)} data-testid="workflow-cancel">
              {opened.acting === 'cancel' ? 'Cancelling…' : 'Cancel'}
            </button>
          ) : null}
          {retry ? (
            <button
              type="button"
              disabled={busy}
              onClick={() => void store.act('retry')}
              title="run the failed and skipped jobs again (those that succeeded stay)"
              data-testid="workflow-retry"
            >
              {opened.acting === 'retry' ? 'Retrying…' : 'Retry'}
            </button>
          ) : null}
        </>
      )}
      {opened.actionError ? (
        <p className="row-problem" role="alert" data-testid="action-error">
          Could not {opened.actionError.action}: {opened.actionError.message}
        </p>
      ) : null}
    </div>
  );
}

/** Shown when the server answers 401: the auth cookie is missing or stale. */
export function AuthNotice({ onRetry }: { onRetry?: () => void }) {
  return (
    <section className="notice notice-bad" role="alert" data-testid="auth-required" aria-labelledby="auth-title">
      <h2 id="auth-title">Not authenticated</h2>
      <p>
        To see this dashboard, open the URL printed at start-up (with <code>?token=…</code>).
      </p>
      <p className="muted">The server prints it when it starts; opening it once sets a cookie for this browser.</p>
      {onRetry ? (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </section>
  );
}

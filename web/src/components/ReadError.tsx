/** A failed read, said where its view is: what could not be read, why, and a way to try again. */
export function ReadError({ what, error, onRetry, testId }: { what: string; error: string; onRetry: () => void; testId: string }) {
  return (
    <p className="notice notice-bad panel-wide" role="alert" data-testid={testId}>
      {what} could not be read: {error}{' '}
      <button type="button" className="link-button" onClick={onRetry}>
        Try again
      </button>
    </p>
  );
}

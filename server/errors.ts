/**
 * The one error type that reaches the HTTP boundary (http/errors.ts): an HTTP status, a machine-readable code, a
 * message for people and optional details (e.g. the `{field, message}` problems of a 400). The core throws its own
 * subclass (SchedulerError) without knowing about HTTP beyond the status its codes map to in shared/.
 */
export class ArbiterError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * An error with an HTTP status and the fields of Arbiter's error body (`{error: {code, message, details?}}`,
 * ErrorBodySchema in shared/api.ts): the server throws it (and its subclasses) to the one error boundary, and
 * clients rebuild it from an answer. Plain TypeScript, no zod: the dashboard imports it at run time.
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

/**
 * The one error type that reaches the HTTP boundary (http/errors.ts): ArbiterError (shared/error.ts) — an HTTP
 * status, a machine-readable code, a message for people and optional details (e.g. the `{field, message}` problems
 * of a 400). The core throws its own subclass (SchedulerError) without knowing about HTTP beyond the status its
 * codes map to in shared/. And the one helper that turns zod problems into `{field, message}`.
 */
import { ArbiterError } from '../shared/error.ts';

export { ArbiterError } from '../shared/error.ts';

/** One problem of an input: the dotted path of the field (`(body)` for the whole input) and what is wrong. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** The shape of a zod error this needs (no zod import: the core and the browser-free helpers share it). */
interface IssueList {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}

/**
 * Every caller's one way from zod issues to `{field, message}`: the path joined with dots under `prefix` (e.g.
 * `config` for a strategy's config, so the field reads `config.quantumMs`), `(body)` when the issue is the whole
 * input.
 */
export function fieldProblems(error: IssueList, prefix: readonly string[] = []): FieldProblem[] {
  return error.issues.map((i) => ({ field: [...prefix, ...i.path.map(String)].join('.') || '(body)', message: i.message }));
}

/** `a.b: message; c: message` */
export function problemsText(problems: readonly FieldProblem[]): string {
  return problems.map((p) => `${p.field}: ${p.message}`).join('; ');
}

/** A 400 `invalid_request` naming each bad field of `what` (e.g. "invalid body: resources.gpus: …"). */
export function invalidInput(what: string, error: IssueList, prefix: readonly string[] = []): ArbiterError {
  const problems = fieldProblems(error, prefix);
  return new ArbiterError(400, 'invalid_request', `${what}: ${problemsText(problems)}`, problems);
}

/** The instance's calls to the scheduler: a JSON POST with the Bearer token, its status and body (injectable). */
export interface JsonAnswer {
  status: number;
  body: unknown;
}

export interface PostOptions {
  /** sent as `Authorization: Bearer <token>` */
  token?: string;
  /** the call fails (throws) when it takes longer */
  timeoutMs: number;
}

/** POST `body` as JSON; throws when there is no answer (refused, reset, timed out). */
export type PostJson = (url: string, body: unknown, opts: PostOptions) => Promise<JsonAnswer>;

export const postJson: PostJson = async (url, body, { token, timeoutMs }) => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: the text as it came
  }
  return { status: res.status, body: parsed };
};

/** Whether a failed call is worth trying again: no answer, a 5xx, 408 or 429. */
export function retryable(answer: JsonAnswer | undefined): boolean {
  return answer === undefined || answer.status >= 500 || answer.status === 408 || answer.status === 429;
}

/** `message` of an error body, else the body as text (for a log line). */
export function answerText(answer: JsonAnswer): string {
  const b = answer.body;
  const message = b !== null && typeof b === 'object' && 'message' in b ? (b as { message: unknown }).message : b;
  return `HTTP ${answer.status}${message ? `: ${typeof message === 'string' ? message : JSON.stringify(message)}` : ''}`;
}

/** An error's message with its cause (fetch says "fetch failed", its cause says why). */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}

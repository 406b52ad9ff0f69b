/**
 * Completion notices to the scheduler (`POST {scheduler}/notify/task_complete`), in the order the tasks finished,
 * up to `maxInFlight` at once. A notice that gets no answer, a 5xx, 408 or 429 goes back to the front and sending
 * pauses for a backoff (the scheduler may be restarting); a 2xx is done, and so is any other 4xx — 404 (the
 * scheduler does not know the task) and 409 (it already has a result) are final by contract, a 400/401 would not
 * change on a retry. At most `maxPending` notices are kept: past that the oldest waiting one is dropped, and said so.
 */
import type { Clock, Timer } from '../clock.ts';
import type { TaskCompleteBody } from '../../shared/dispatch.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import { answerText, errorText, retryable, type JsonAnswer, type PostJson } from '../runtime/json-http.ts';

export interface NotifierOptions {
  clock: Clock;
  /** the scheduler's base URL */
  scheduler: string;
  post: PostJson;
  token?: string;
  /** notices kept (waiting and in flight) before the oldest is dropped @default 10000 */
  maxPending?: number;
  /** notices sent at once @default 4 */
  maxInFlight?: number;
  /** one call's time limit @default 5000 */
  timeoutMs?: number;
  backoff?: BackoffOptions;
  log?: (line: string) => void;
}

export class CompletionNotifier {
  private readonly waiting: TaskCompleteBody[] = [];
  private inFlight = 0;
  private retryTimer: Timer | null = null;
  private closed = false;
  private readonly backoff: Backoff;
  private readonly url: string;
  /** notices kept at most */
  readonly maxPending: number;
  private readonly maxInFlight: number;
  private readonly timeoutMs: number;
  private readonly log: (line: string) => void;
  /** notices the scheduler took (2xx) */
  delivered = 0;
  /** notices it answered for good with a 4xx (404, 409, …) */
  refused = 0;
  /** notices dropped because `maxPending` were kept */
  dropped = 0;

  constructor(private readonly opts: NotifierOptions) {
    this.url = `${opts.scheduler.replace(/\/+$/, '')}/notify/task_complete`;
    this.maxPending = opts.maxPending ?? 10_000;
    this.maxInFlight = opts.maxInFlight ?? 4;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.backoff = new Backoff(opts.backoff);
    this.log = opts.log ?? (() => {});
    if (!(Number.isInteger(this.maxPending) && this.maxPending >= 1)) throw new Error(`maxPending must be an integer ≥ 1, not ${this.maxPending}`);
    if (!(Number.isInteger(this.maxInFlight) && this.maxInFlight >= 1)) throw new Error(`maxInFlight must be an integer ≥ 1, not ${this.maxInFlight}`);
  }

  /** Queue a notice; it is sent as soon as the scheduler takes notices. */
  send(notice: TaskCompleteBody): void {
    if (this.closed) return;
    this.waiting.push(notice);
    if (this.pending > this.maxPending && this.waiting.length) {
      const lost = this.waiting.shift()!;
      this.dropped++;
      this.log(`completion notice of task ${lost.task_id} dropped: ${this.maxPending} notices are waiting for the scheduler`);
    }
    this.pump();
  }

  /** Notices not yet answered for good (waiting and in flight). */
  get pending(): number {
    return this.waiting.length + this.inFlight;
  }

  /** Stop sending; what is still pending is given up. */
  close(): void {
    this.closed = true;
    this.retryTimer?.cancel();
    this.retryTimer = null;
    this.waiting.length = 0;
  }

  private pump(): void {
    while (!this.closed && this.retryTimer === null && this.inFlight < this.maxInFlight && this.waiting.length) {
      const notice = this.waiting.shift()!;
      this.inFlight++;
      this.opts.post(this.url, notice, { ...(this.opts.token ? { token: this.opts.token } : {}), timeoutMs: this.timeoutMs }).then(
        (answer) => this.answered(notice, answer),
        (err: unknown) => this.answered(notice, undefined, err),
      );
    }
  }

  private answered(notice: TaskCompleteBody, answer: JsonAnswer | undefined, err?: unknown): void {
    this.inFlight--;
    if (this.closed) return;
    if (answer && answer.status >= 200 && answer.status < 300) {
      this.delivered++;
      this.backoff.reset();
    } else if (!retryable(answer)) {
      this.refused++;
      if (answer!.status !== 404 && answer!.status !== 409) this.log(`completion notice of task ${notice.task_id} refused: ${answerText(answer!)}`);
    } else {
      this.waiting.unshift(notice);
      if (this.retryTimer === null) {
        const waitMs = this.backoff.next();
        this.log(`completion notice of task ${notice.task_id} not taken (${answer ? answerText(answer) : errorText(err)}); retrying in ${waitMs} ms`);
        this.retryTimer = this.opts.clock.setTimeout(() => {
          this.retryTimer = null;
          this.pump();
        }, waitMs);
      }
    }
    this.pump();
  }
}

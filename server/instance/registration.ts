/**
 * `--register`: the instance announces itself with `POST {scheduler}/ti/register {host, port, model_name}`, trying
 * again with backoff until the scheduler answers (it may start after the instance), and takes itself off with
 * `POST /ti/remove {host, port}` when it stops (best effort, bounded).
 */
import type { Clock, Timer } from '../clock.ts';
import { TiRegisterResponseSchema, type TiRegisterBody } from '../../shared/dispatch.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import { answerText, errorText, retryable, type JsonAnswer, type PostJson } from '../runtime/json-http.ts';

export interface RegistrationOptions {
  clock: Clock;
  /** the scheduler's base URL */
  scheduler: string;
  post: PostJson;
  token?: string;
  body: TiRegisterBody;
  /** one call's time limit @default 5000 */
  timeoutMs?: number;
  /** @default 200 ms doubling to 5 s */
  backoff?: BackoffOptions;
  log?: (line: string) => void;
}

export class Registration {
  /** the uuid the scheduler gave, once registered */
  tiUuid: string | null = null;
  /** the uuid once registered; null when the scheduler refused it (a 4xx) or `remove` came first */
  readonly done: Promise<string | null>;
  private settle!: (uuid: string | null) => void;
  private timer: Timer | null = null;
  private stopped = false;
  private failures = 0;
  private readonly base: string;
  private readonly backoff: Backoff;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: RegistrationOptions) {
    this.base = opts.scheduler.replace(/\/+$/, '');
    this.backoff = new Backoff(opts.backoff ?? { initialMs: 200, maxMs: 5000 });
    this.log = opts.log ?? (() => {});
    this.done = new Promise((resolve) => (this.settle = resolve));
  }

  start(): void {
    void this.attempt();
  }

  /** Stop trying (the scheduler keeps what it has). */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.settle(this.tiUuid);
  }

  /** Stop trying; when registered, `POST /ti/remove` within `timeoutMs`. Whether the scheduler took it. */
  async remove(timeoutMs = 1000): Promise<boolean> {
    this.stop();
    if (this.tiUuid === null) return false;
    const { host, port } = this.opts.body;
    try {
      const answer = await this.opts.post(`${this.base}/ti/remove`, { host, port }, this.callOptions(timeoutMs));
      return answer.status >= 200 && answer.status < 300;
    } catch {
      return false;
    }
  }

  private async attempt(): Promise<void> {
    let answer: JsonAnswer | undefined;
    let err: unknown;
    try {
      answer = await this.opts.post(`${this.base}/ti/register`, this.opts.body, this.callOptions(this.opts.timeoutMs ?? 5000));
    } catch (e) {
      err = e;
    }
    if (this.stopped) return;
    const ok = answer && answer.status >= 200 && answer.status < 300 ? TiRegisterResponseSchema.safeParse(answer.body) : undefined;
    if (ok?.success && ok.data.status === 'success') {
      this.tiUuid = ok.data.ti_uuid;
      if (this.failures) this.log(`registered with ${this.base} as ${this.tiUuid}`);
      this.settle(this.tiUuid);
    } else if (answer && !ok && !retryable(answer)) {
      this.log(`registration refused by ${this.base}: ${answerText(answer)}`);
      this.settle(null);
    } else if (ok) {
      this.log(`registration refused by ${this.base}: ${ok.success ? ok.data.message : `unexpected answer ${JSON.stringify(answer!.body)}`}`);
      this.settle(null);
    } else {
      const waitMs = this.backoff.next();
      if (this.failures++ === 0) this.log(`cannot register with ${this.base} yet (${answer ? answerText(answer) : errorText(err)}); retrying every ≤ ${this.backoff.maxMs} ms`);
      this.timer = this.opts.clock.setTimeout(() => void this.attempt(), waitMs);
    }
  }

  private callOptions(timeoutMs: number) {
    return { ...(this.opts.token ? { token: this.opts.token } : {}), timeoutMs };
  }
}

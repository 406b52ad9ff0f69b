/**
 * Arbiter's calls to a worker's engine (`POST /engine`, `POST /call` on its port) and what their answers become: the
 * result; an exception the engine raised → EngineCallError (502 with its remote type and stack); the worker's own
 * 400/404/409 as they are; anything else, or no answer, 502.
 */
import { EngineErrorSchema, type WorkerRecord } from '../../../shared/workers.ts';
import { ArbiterError } from '../../errors.ts';
import { errorText, type PostJson } from '../json-http.ts';

/** An exception the engine raised, as the worker reported it: 502 with the remote type and stack. */
export class EngineCallError extends ArbiterError {
  constructor(readonly remote: { message: string; remote_type: string; remote_stack: string }) {
    super(502, 'engine_error', remote.message, remote);
  }
}

/** POST `body` to `path` on the worker's port; its answer's body, or the error it means. */
export async function callWorker(post: PostJson, r: WorkerRecord, path: string, body: unknown, timeoutMs: number): Promise<unknown> {
  const url = `http://${r.worker.host}:${r.worker.port}${path}`;
  let answer;
  try {
    answer = await post(url, body, { timeoutMs });
  } catch (err) {
    throw new ArbiterError(502, 'worker_unreachable', `worker ${r.worker.id} did not answer ${path}: ${errorText(err)}`);
  }
  if (answer.status >= 200 && answer.status < 300) return answer.body;
  const remote = EngineErrorSchema.safeParse(answer.body);
  if (remote.success) throw new EngineCallError(remote.data.error);
  const e = (answer.body as { error?: { code?: string; message?: string } } | null)?.error;
  const status = [400, 404, 409].includes(answer.status) ? answer.status : 502;
  throw new ArbiterError(status, e?.code ?? 'worker_error', e?.message ?? `worker ${r.worker.id} answered ${path} with HTTP ${answer.status}`);
}

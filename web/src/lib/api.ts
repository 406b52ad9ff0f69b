/** REST helpers: same-origin fetch (the auth cookie goes along by itself), JSON errors as `ApiError`. */
import type { ErrorBody, HealthResponse, HistoryResponse } from '../../../shared/api.ts';
import type { ResourceStatus } from '../../../shared/resources.ts';
import { ArbiterError } from '../../../shared/error.ts';

/** An error answer of the API (its status, and the code, message and details of its body). */
export class ApiError extends ArbiterError {
  override name = 'ApiError';

  get unauthenticated(): boolean {
    return this.status === 401;
  }
}

export function isUnauthenticated(err: unknown): boolean {
  return err instanceof ApiError && err.unauthenticated;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** The error body of the task dispatch routes (the `Scheduler.md` shape; `code` is Arbiter's addition). */
interface FlatErrorBody {
  status?: unknown;
  message?: unknown;
  code?: string;
}

/** One JSON call: same-origin, cookie auth, no cache; a non-2xx answer becomes an `ApiError` with the body's code, message and details. */
export async function callJson<T>(method: Method, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      credentials: 'same-origin',
      cache: 'no-store',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(0, 'network_error', err instanceof Error ? err.message : String(err));
  }
  if (!res.ok) {
    let parsed: (Partial<ErrorBody> & FlatErrorBody) | undefined;
    try {
      parsed = (await res.json()) as Partial<ErrorBody> & FlatErrorBody;
    } catch {
      parsed = undefined;
    }
    // `{error: {code, message, details}}`, or the task dispatch routes' `{status: "error", message, detail, code}`
    const e = parsed?.error ?? (typeof parsed?.message === 'string' ? { code: parsed.code, message: parsed.message, details: undefined } : undefined);
    throw new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? res.statusText, e?.details);
  }
  return (await res.json()) as T;
}

export function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return callJson<T>('GET', path, undefined, signal);
}

/** A 400's `details` as field → message (the API names each bad field as `{field, message}`; one field may have several). */
export function fieldErrors(err: unknown): Record<string, string> {
  if (!(err instanceof ApiError) || !Array.isArray(err.details)) return {};
  const out: Record<string, string> = {};
  for (const d of err.details as unknown[]) {
    if (typeof d !== 'object' || d === null) continue;
    const { field, message } = d as { field?: unknown; message?: unknown };
    if (typeof field !== 'string' || typeof message !== 'string') continue;
    out[field] = out[field] ? `${out[field]}; ${message}` : message;
  }
  return out;
}

/** What to tell the user about a failed call. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.status === 0 ? `the server cannot be reached (${err.message})` : err.message;
  return err instanceof Error ? err.message : String(err);
}

export function fetchStatus(signal?: AbortSignal): Promise<ResourceStatus> {
  return getJson<ResourceStatus>('/api/status', signal);
}

/** GET /api/health: among others (with the token, which the cookie carries), the node this server is. */
export function fetchHealth(signal?: AbortSignal): Promise<HealthResponse> {
  return getJson<HealthResponse>('/api/health', signal);
}

export interface HistoryRequest {
  series: readonly string[];
  /** epoch ms */
  sinceMs: number;
  untilMs?: number;
  /** one point per stepMs (mean), ≥ 1000 */
  stepMs?: number;
  signal?: AbortSignal;
}

export function historyUrl(req: Omit<HistoryRequest, 'signal'>): string {
  const q = new URLSearchParams({ series: req.series.join(','), sinceMs: String(Math.floor(req.sinceMs)) });
  if (req.untilMs !== undefined) q.set('untilMs', String(Math.floor(req.untilMs)));
  if (req.stepMs !== undefined) q.set('stepMs', String(Math.max(1000, Math.floor(req.stepMs))));
  return `/api/history?${q.toString()}`;
}

/** GET /api/history: columnar series, `t` in epoch ms. */
export function fetchHistory(req: HistoryRequest): Promise<HistoryResponse> {
  return getJson<HistoryResponse>(historyUrl(req), req.signal);
}

/** The series a 404 `unknown_series` names (none for any other error). */
export function unknownSeries(err: unknown): string[] {
  if (!(err instanceof ApiError) || err.code !== 'unknown_series') return [];
  const d = err.details as { series?: unknown } | undefined;
  return Array.isArray(d?.series) ? d.series.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * GET /api/history, asking again without the series the server does not know yet (an interface or GPU that
 * has not reported a figure); throws when none is known.
 */
export async function fetchKnownHistory(req: HistoryRequest): Promise<HistoryResponse> {
  try {
    return await fetchHistory(req);
  } catch (err) {
    const unknown = unknownSeries(err);
    const rest = req.series.filter((n) => !unknown.includes(n));
    if (unknown.length === 0 || rest.length === 0) throw err;
    return fetchHistory({ ...req, series: rest });
  }
}

/** GET /api/history/series: the names that exist. */
export async function fetchSeriesNames(signal?: AbortSignal): Promise<string[]> {
  return (await getJson<{ series: string[] }>('/api/history/series', signal)).series;
}

/** Series names, as the server spells them. */
export const seriesName = {
  cpuTotal: 'cpu.total',
  cpuCore: (i: number) => `cpu.core.${i}`,
  memUsed: 'mem.used',
  swapUsed: 'swap.used',
  diskUsed: (mount: string) => `disk.${mount}.used`,
  netRx: (iface: string) => `net.${iface}.rx`,
  netTx: (iface: string) => `net.${iface}.tx`,
  gpuUtil: (index: number) => `gpu.${index}.util`,
  /** percent of total */
  gpuMem: (index: number) => `gpu.${index}.mem`,
  gpuTemp: (index: number) => `gpu.${index}.temp`,
  gpuPower: (index: number) => `gpu.${index}.power`,
} as const;

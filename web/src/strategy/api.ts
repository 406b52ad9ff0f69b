/** The strategy routes as the dashboard calls them. */
import { createContext, useContext } from 'react';
import type { Session } from '../../../shared/api.ts';
import type { CompareBody, CompareResponse, PerformanceResponse, StrategyPut, StrategyState } from '../../../shared/strategy.ts';
import type { StrategyName } from '../../../shared/scheduler.ts';
import { ApiError, callJson, getJson } from '../lib/api.ts';

/** One entry of GET /api/strategies (StrategyInfoSchema). */
export interface StrategyInfo {
  name: StrategyName;
  description: string;
  /** JSON Schema (draft 2020-12) of its config */
  configSchema: Record<string, unknown>;
  defaults: Record<string, unknown>;
  current: boolean;
}

export interface StrategyApi {
  /** GET /api/session: whether this session's token may change how the node is scheduled (PUT /api/strategy) */
  session(): Promise<Session>;
  current(): Promise<StrategyState>;
  strategies(): Promise<{ strategies: StrategyInfo[] }>;
  put(body: StrategyPut): Promise<StrategyState>;
  performance(): Promise<PerformanceResponse>;
  compare(body: CompareBody): Promise<CompareResponse>;
}

export const strategyApi: StrategyApi = {
  session: () => getJson<Session>('/api/session'),
  current: () => getJson<StrategyState>('/api/strategy'),
  strategies: () => getJson<{ strategies: StrategyInfo[] }>('/api/strategies'),
  put: (body) => callJson<StrategyState>('PUT', '/api/strategy', body),
  performance: () => getJson<PerformanceResponse>('/api/strategy/performance'),
  compare: (body) => callJson<CompareResponse>('POST', '/api/strategy/compare', body),
};

/** A 404: this server does not have the route yet (an older one). */
export const missingRoute = (err: unknown) => err instanceof ApiError && err.status === 404;

export const StrategyApiContext = createContext<StrategyApi>(strategyApi);

export function useStrategyApi(): StrategyApi {
  return useContext(StrategyApiContext);
}

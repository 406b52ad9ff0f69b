/**
 * The engine's `/events` stream (type=container), pure parts: splitting the newline-delimited JSON, deciding what
 * an event means for our list, and coalescing a burst of events into one piece of work per container.
 *
 * Docker and Podman name the lifecycle differently: Docker `destroy`, Podman `remove`; Podman adds `init` and
 * `cleanup` and does not always send `stop`; Docker's `health_status: healthy` carries the result after a colon.
 * Exec, attach, top, resize, copy, export and commit events do not change what we show and are ignored.
 */

import { StringDecoder } from 'node:string_decoder';

export interface EngineEvent {
  Type?: string;
  Action?: string;
  /** the pre-1.22 name of Action, still sent */
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
}

export type ContainerAction = 'refresh' | 'remove';

const REMOVE = new Set(['destroy', 'remove']);
const REFRESH = new Set([
  'create', 'init', 'start', 'restart', 'die', 'stop', 'kill', 'pause', 'unpause', 'cleanup', 'oom',
  'health_status', 'rename', 'update', 'mount', 'unmount', 'checkpoint', 'restore',
]);

/** What an engine event means for the container list: inspect the container again, drop it, or nothing. */
export function classifyEvent(ev: EngineEvent): { id: string; action: ContainerAction } | null {
  if ((ev.Type ?? 'container') !== 'container') return null;
  const id = ev.Actor?.ID ?? ev.id;
  if (!id) return null;
  const verb = (ev.Action ?? ev.status ?? '').split(':')[0]!.trim().toLowerCase();
  if (REMOVE.has(verb)) return { id, action: 'remove' };
  if (REFRESH.has(verb)) return { id, action: 'refresh' };
  return null;
}

/**
 * Add an event to the pending work (per container, the latest action wins — except that a removal is final:
 * ids are never reused, so a late event for a removed container must not bring it back).
 */
export function coalesce(pending: Map<string, ContainerAction>, ev: { id: string; action: ContainerAction }): Map<string, ContainerAction> {
  if (pending.get(ev.id) !== 'remove') pending.set(ev.id, ev.action);
  return pending;
}

/** Splits a byte stream of newline-delimited JSON into objects; a line that is not JSON is reported and skipped. */
export class JsonLines {
  private buf = '';
  private readonly decoder = new StringDecoder('utf8');

  constructor(private readonly onValue: (v: unknown) => void, private readonly onBadLine: (line: string) => void = () => {}) {}

  push(chunk: Buffer | string): void {
    // a multi-byte character may be cut between two chunks: the decoder holds its first bytes back
    this.buf += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line) this.emit(line);
    }
  }

  end(): void {
    const line = (this.buf + this.decoder.end()).trim();
    this.buf = '';
    if (line) this.emit(line);
  }

  private emit(line: string): void {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      this.onBadLine(line);
      return;
    }
    this.onValue(v);
  }
}

/**
 * The task instances: `ti_conn_info` (uuid → where it listens, its model, weight and state) and `model_to_ti`
 * (model → its instances, in registration order). Registering the same host:port again keeps its uuid and takes
 * the new model; an instance whose deliveries keep failing is `down` (skipped by routing) until it answers again.
 */
import type { TaskInstance } from '../../../shared/dispatch.ts';

const endpoint = (host: string, port: number) => `${host.toLowerCase()}:${port}`;

export class InstanceRegistry {
  /** ti_conn_info */
  private readonly byId = new Map<string, TaskInstance>();
  private readonly byEndpoint = new Map<string, string>();
  /** model_to_ti */
  private readonly byModel = new Map<string, string[]>();

  get(id: string): TaskInstance | undefined {
    return this.byId.get(id);
  }

  at(host: string, port: number): TaskInstance | undefined {
    const id = this.byEndpoint.get(endpoint(host, port));
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** A model's instances, in registration order. */
  ofModel(model: string): TaskInstance[] {
    return (this.byModel.get(model) ?? []).map((id) => this.byId.get(id)!);
  }

  models(): string[] {
    return [...this.byModel.keys()];
  }

  all(): TaskInstance[] {
    return [...this.byId.values()];
  }

  /** Add or replace an instance record (a new record object each time: records are immutable). */
  put(instance: TaskInstance): void {
    const before = this.byId.get(instance.id);
    if (before && before.model !== instance.model) this.unlist(before);
    this.byId.set(instance.id, instance);
    this.byEndpoint.set(endpoint(instance.host, instance.port), instance.id);
    const list = this.byModel.get(instance.model) ?? [];
    if (!list.includes(instance.id)) list.push(instance.id);
    this.byModel.set(instance.model, list);
  }

  delete(id: string): TaskInstance | undefined {
    const i = this.byId.get(id);
    if (!i) return undefined;
    this.byId.delete(id);
    this.byEndpoint.delete(endpoint(i.host, i.port));
    this.unlist(i);
    return i;
  }

  private unlist(i: TaskInstance): void {
    const list = (this.byModel.get(i.model) ?? []).filter((x) => x !== i.id);
    if (list.length) this.byModel.set(i.model, list);
    else this.byModel.delete(i.model);
  }
}

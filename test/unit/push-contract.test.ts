/**
 * The push contract (shared/events.ts): every event type has a payload schema, and the hub refuses to publish a
 * type that has none, also when called without types (JavaScript). What a running server really publishes is
 * checked against the schemas in test/integration/push-contract.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ManualClock } from '../../server/clock.ts';
import { EventHub } from '../../server/push/hub.ts';
import { MemoryIdStore } from '../../server/store/event-ids.ts';
import { COALESCED_TYPES, EVENT_PAYLOADS, EVENT_TYPES, EventTypeSchema, coalesceKey, isEventType, type Envelope } from '../../shared/events.ts';
import { payload, statusPayload } from '../helpers/payloads.ts';

const hub = () => new EventHub({ clock: new ManualClock(), replayCount: 10, replayMaxAgeMs: 60_000, ids: new MemoryIdStore() });

describe('EVENT_PAYLOADS', () => {
  it('gives every event type a payload schema, and the types are exactly its keys', () => {
    expect(Object.keys(EVENT_PAYLOADS)).toEqual(EVENT_TYPES);
    expect(EventTypeSchema.options).toEqual(EVENT_TYPES);
    for (const type of EVENT_TYPES) {
      expect(EVENT_PAYLOADS[type], type).toBeInstanceOf(z.ZodType);
      // the sample payloads the tests publish are what the schema describes, field for field
      const sample = payload(type);
      expect(EVENT_PAYLOADS[type].parse(sample), type).toEqual(sample);
    }
    for (const type of COALESCED_TYPES) expect(EVENT_TYPES).toContain(type);
  });

  it('rejects a payload that is not of its type', () => {
    expect(EVENT_PAYLOADS.hint.safeParse(payload('conflict')).success).toBe(false);
    expect(EVENT_PAYLOADS.conflict.safeParse(payload('scheduling_update')).success).toBe(false);
    expect(EVENT_PAYLOADS.scheduling_update.safeParse(payload('conflict')).success).toBe(false);
    expect(EVENT_PAYLOADS.resource_status.safeParse({ cpu: 1 }).success).toBe(false);
  });

  it('coalesces a status snapshot with the earlier one of its node only, and never the other types', () => {
    const env = (node: string): Envelope => ({ id: 1, type: 'resource_status', ts: 0, data: statusPayload({ node }) });
    expect(coalesceKey(env('gpu-a'))).toBe(coalesceKey(env('gpu-a')));
    expect(coalesceKey(env('gpu-a'))).not.toBe(coalesceKey(env('gpu-b')));
    expect(coalesceKey(env(''))).toBe('resource_status:');
    for (const type of EVENT_TYPES.filter((t) => !COALESCED_TYPES.has(t))) {
      expect(coalesceKey({ id: 1, type, ts: 0, data: payload(type) } as Envelope), type).toBeUndefined();
    }
  });

  it('tells event types from other strings', () => {
    for (const type of EVENT_TYPES) expect(isEventType(type)).toBe(true);
    for (const other of ['job_update', 'replay_gap', 'toString', '', 1, null]) expect(isEventType(other)).toBe(false);
  });
});

describe('EventHub.publish', () => {
  it('publishes every type of the contract', () => {
    const h = hub();
    for (const type of EVENT_TYPES) expect(h.publish(type, payload(type))?.type).toBe(type);
    expect(h.lastId).toBe(EVENT_TYPES.length);
  });

  it('refuses, at run time, a type without a payload schema: nothing is published, no id is used', () => {
    const h = hub();
    const seen: number[] = [];
    h.subscribe((ev) => seen.push(ev.id));
    // as a JavaScript caller would (the types refuse it at compile time)
    for (const type of ['job_update', 'toString', undefined]) {
      expect(() => Reflect.apply(h.publish, h, [type, { any: 'thing' }])).toThrow(/cannot publish event type .*no payload schema in EVENT_PAYLOADS/);
    }
    expect(() => Reflect.apply(h.publish, h, ['node_update', {}])).toThrow('cannot publish event type "node_update"');
    expect(seen).toEqual([]);
    expect(h.lastId).toBe(0);
    expect(h.publish('hint', payload('hint'))?.id).toBe(1);
  });
});

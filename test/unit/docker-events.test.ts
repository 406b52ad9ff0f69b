import { describe, expect, it } from 'vitest';
import { classifyEvent, coalesce, JsonLines, type ContainerAction, type EngineEvent } from '../../server/monitor/sources/docker/events.ts';

const ID = 'f26255b8d39c9546fb3180e3d8d5a3398ac3f2faa99fc944ec3d792fc38ad364';
// as Podman 4.3 sends them (recorded), and Docker's variants
const ev = (action: string, extra: Partial<EngineEvent> = {}): EngineEvent => ({
  status: action, id: ID, from: 'localhost/busybox:latest', Type: 'container', Action: action,
  Actor: { ID, Attributes: { image: 'localhost/busybox:latest', name: 'ev1' } }, scope: 'local', time: 1795448523, timeNano: 1795448523119088852,
  ...extra,
} as EngineEvent);

describe('classifyEvent', () => {
  it('inspects again on every lifecycle event of Docker and Podman', () => {
    for (const a of ['create', 'init', 'start', 'restart', 'die', 'stop', 'kill', 'pause', 'unpause', 'cleanup', 'oom', 'rename', 'update']) {
      expect(classifyEvent(ev(a))).toEqual({ id: ID, action: 'refresh' });
    }
  });

  it("drops the container on Docker's destroy and Podman's remove", () => {
    expect(classifyEvent(ev('destroy'))).toEqual({ id: ID, action: 'remove' });
    expect(classifyEvent(ev('remove'))).toEqual({ id: ID, action: 'remove' });
  });

  it("reads Docker's health_status with its result after a colon, and Podman's bare one", () => {
    expect(classifyEvent(ev('health_status: unhealthy'))).toEqual({ id: ID, action: 'refresh' });
    expect(classifyEvent(ev('health_status'))).toEqual({ id: ID, action: 'refresh' });
  });

  it('ignores exec, attach, top, resize and other types', () => {
    for (const a of ['exec_create: sh', 'exec_start: sh -c true', 'exec_die', 'exec_died', 'attach', 'top', 'resize', 'commit', 'copy', 'export']) {
      expect(classifyEvent(ev(a))).toBeNull();
    }
    expect(classifyEvent(ev('create', { Type: 'image' }))).toBeNull();
    expect(classifyEvent({ Type: 'container', Action: 'start' })).toBeNull(); // no id
  });

  it('falls back to the old `status` and `id` fields', () => {
    expect(classifyEvent({ status: 'die', id: ID })).toEqual({ id: ID, action: 'refresh' });
  });
});

describe('coalesce', () => {
  it('keeps one action per container, the latest', () => {
    const p = new Map<string, ContainerAction>();
    for (const a of ['create', 'init', 'start']) coalesce(p, classifyEvent(ev(a))!);
    coalesce(p, { id: 'other', action: 'refresh' });
    expect([...p]).toEqual([[ID, 'refresh'], ['other', 'refresh']]);
  });

  it('a removal is final: a late event does not bring the container back', () => {
    const p = new Map<string, ContainerAction>();
    for (const a of ['die', 'cleanup', 'remove', 'cleanup']) coalesce(p, classifyEvent(ev(a))!);
    expect(p.get(ID)).toBe('remove');
  });
});

describe('JsonLines', () => {
  it('splits newline-delimited JSON arriving in arbitrary chunks', () => {
    const got: unknown[] = [];
    const bad: string[] = [];
    const lines = new JsonLines((v) => got.push(v), (l) => bad.push(l));
    const text = `${JSON.stringify(ev('create'))}\n${JSON.stringify(ev('start'))}\nnot json\n{"a":1}`;
    for (let i = 0; i < text.length; i += 7) lines.push(Buffer.from(text.slice(i, i + 7)));
    expect(got).toHaveLength(2);
    lines.end();
    expect(got).toHaveLength(3);
    expect(got[2]).toEqual({ a: 1 });
    expect(bad).toEqual(['not json']);
  });

  it('does not split a multi-byte character across chunks wrongly', () => {
    const got: unknown[] = [];
    const lines = new JsonLines((v) => got.push(v));
    const buf = Buffer.from('{"name":"café"}\n');
    const cut = buf.indexOf(0xc3) + 1;
    lines.push(buf.subarray(0, cut));
    lines.push(buf.subarray(cut));
    expect(got).toEqual([{ name: 'café' }]);
  });
});

// @vitest-environment jsdom
/** The request form: what the API says is wrong shows at the field it names; success and "never fits" show below. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { App } from '../../web/src/App.tsx';
import { ApiError } from '../../web/src/lib/api.ts';
import { StaticSource } from './fakes.ts';
import { mount, submitForm, type, type Mounted } from './dom.ts';
import { FakeSchedulerApi, T0, allocation, conflict, liveSnapshot, request } from './scheduler-fakes.ts';

let view: Mounted;
let api: FakeSchedulerApi;

beforeEach(async () => {
  history.replaceState(null, '', '/scheduler');
  localStorage.clear();
  api = new FakeSchedulerApi();
  view = await mount(<App source={new StaticSource(liveSnapshot())} schedulerApi={api} />);
});
afterEach(() => view.unmount());

const form = () => view.byTestId('request-form')[0]!.querySelector('form')!;
const input = (name: string) => form().querySelector<HTMLInputElement>(`input[name="${name}"]`)!;
const errorOf = (name: string) => input(name).closest('.field')!.querySelector('[data-testid="field-error"]')?.textContent ?? null;

/** The 400 POST /api/requests answers for an empty owner and a word where a number goes. */
const invalid = () =>
  new ApiError(400, 'invalid_request', 'invalid request: owner: Too small; resources.gpus: Invalid input', [
    { field: 'owner', message: 'Too small: expected string to have >=1 characters' },
    { field: 'resources.gpus', message: 'Invalid input: expected number, received string' },
    { field: 'resources', message: 'ask for at least one resource > 0 (cpu, memoryMiB, gpus or gpuMemMiB)' },
  ]);

describe('request form', () => {
  it('sends what was typed and shows each field the API rejects next to it', async () => {
    api.onSubmit = () => Promise.reject(invalid());
    await type(input('gpus'), 'two');
    await type(input('leaseMin'), '2');
    await submitForm(form());

    // numbers as numbers, minutes as ms, the word as typed (the API is the one judge)
    expect(api.submitted).toEqual([{ owner: '', resources: { gpus: 'two' }, leaseMs: 120_000 }]);
    expect(errorOf('owner')).toBe('Too small: expected string to have >=1 characters');
    expect(errorOf('gpus')).toBe('Invalid input: expected number, received string');
    expect(input('gpus').getAttribute('aria-invalid')).toBe('true');
    expect(input('gpus').getAttribute('aria-describedby')).toBe(input('gpus').closest('.field')!.querySelector('[data-testid="field-error"]')!.id);
    expect(errorOf('cpu')).toBeNull();
    expect(input('cpu').hasAttribute('aria-invalid')).toBe(false);
    // a problem of the resources as a whole shows at their group
    const group = form().querySelector('fieldset')!;
    expect(group.className).toContain('invalid');
    expect(group.querySelector(':scope > [data-testid="field-error"]')?.textContent).toContain('at least one resource');
    expect(view.text('form-error')).toBe('Please correct the marked fields.');
  });

  it('clears the errors when the API takes the request, and says where it went', async () => {
    api.onSubmit = () => Promise.reject(invalid());
    await submitForm(form());
    expect(view.byTestId('field-error').length).toBe(3);

    api.onSubmit = (body) => Promise.resolve({ request: request('r1', { owner: String(body.owner) }), conflict: conflict('k1', 'r1', { message: '1 GPU short: ana holds GPU 0' }) });
    await type(input('owner'), 'bo');
    await type(input('gpus'), '1');
    await type(input('priority'), '5');
    await submitForm(form());
    expect(api.submitted.at(-1)).toEqual({ owner: 'bo', priority: 5, resources: { gpus: 1 } });
    expect(view.byTestId('field-error')).toHaveLength(0);
    expect(input('gpus').hasAttribute('aria-invalid')).toBe(false);
    expect(view.text('form-result')).toContain('Queued: 1 GPU short: ana holds GPU 0');
    expect(view.byTestId('form-result')[0]!.querySelector('a')?.getAttribute('href')).toBe('/scheduler#request-r1');
    // the owner is remembered for the next visit
    expect(localStorage.getItem('arbiter.owner')).toBe('bo');

    api.onSubmit = () => Promise.resolve({ request: request('r2', { status: 'granted' }), allocation: allocation('a2', 'r2', { gpuIndices: [1], leaseExpiresAt: T0 + 600_000 }) });
    await submitForm(form());
    expect(view.text('form-result')).toMatch(/^Granted: 1 GPU on GPU 1, lease until/);
  });

  it('says so when the request can never fit this node', async () => {
    api.onSubmit = () => Promise.reject(new ApiError(422, 'never_fits', 'asks for 9 GPUs; the node has 2'));
    await type(input('owner'), 'ana');
    await type(input('gpus'), '9');
    await submitForm(form());
    expect(view.text('form-error')).toBe('Never fits this node: asks for 9 GPUs; the node has 2');
    expect(view.byTestId('field-error')).toHaveLength(0);
  });

  it('GPU models: comma-separated names go as gpuModels; the API\'s word on them (or on one of them) shows at the input', async () => {
    api.onSubmit = () => Promise.reject(new ApiError(400, 'invalid_request', 'invalid request', [
      { field: 'gpuModels', message: 'gpuModels constrains GPUs: ask for resources.gpus or resources.gpuMemMiB > 0 with it' },
    ]));
    await type(input('owner'), 'ana');
    await type(input('cpu'), '500');
    await type(input('gpuModels'), ' A100, ,NVIDIA H100 ');
    await submitForm(form());
    expect(api.submitted.at(-1)).toEqual({ owner: 'ana', resources: { cpu: 500 }, gpuModels: ['A100', 'NVIDIA H100'] });
    expect(errorOf('gpuModels')).toMatch(/^gpuModels constrains GPUs/);
    expect(view.text('form-error')).toBe('Please correct the marked fields.');

    api.onSubmit = () => Promise.reject(new ApiError(400, 'invalid_request', 'invalid request', [{ field: 'gpuModels.1', message: 'no control characters' }]));
    await submitForm(form());
    expect(errorOf('gpuModels')).toBe('no control characters');

    api.onSubmit = (body) => Promise.resolve({ request: request('r3', { owner: String(body.owner), status: 'granted' }), allocation: allocation('a3', 'r3', { gpuIndices: [1] }) });
    await type(input('gpus'), '1');
    await type(input('cpu'), '');
    await type(input('gpuModels'), '');
    await submitForm(form());
    expect(api.submitted.at(-1)).toEqual({ owner: 'ana', resources: { gpus: 1 } });
    expect(view.byTestId('field-error')).toHaveLength(0);
  });

  it('a token bound to an owner fills the owner and keeps it; a viewer\'s token cannot submit', async () => {
    view.unmount();
    api = new FakeSchedulerApi();
    api.who = { auth: true, admin: false, role: 'operator', name: 'alice', owner: 'alice' };
    view = await mount(<App source={new StaticSource(liveSnapshot())} schedulerApi={api} />);
    expect(input('owner').value).toBe('alice');
    expect(input('owner').readOnly).toBe(true);
    await type(input('cpu'), '500');
    await submitForm(form());
    expect(api.submitted.at(-1)).toEqual({ owner: 'alice', resources: { cpu: 500 } });

    view.unmount();
    api = new FakeSchedulerApi();
    api.who = { auth: true, admin: false, role: 'viewer', name: 'vera', owner: 'vera' };
    view = await mount(<App source={new StaticSource(liveSnapshot())} schedulerApi={api} />);
    expect(view.text('form-read-only')).toMatch(/role: viewer/);
    expect(input('owner').disabled).toBe(true);
    expect(view.byTestId('submit-request')[0]!.matches(':disabled')).toBe(true);
  });
});

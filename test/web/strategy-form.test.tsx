// @vitest-environment jsdom
/**
 * The strategy panel: one click switches; the config form is generated from each strategy's JSON Schema (here the
 * ones the server derives from shared/strategy.ts), sends a config that schema accepts, and shows the server's
 * 400 at the field it names.
 */
import { z } from 'zod';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StrategyName } from '../../shared/scheduler.ts';
import { STRATEGY_CONFIG_SCHEMAS, STRATEGY_DESCRIPTIONS, strategyDefaults, type CompareBody, type StrategyPut, type StrategyState } from '../../shared/strategy.ts';
import { App } from '../../web/src/App.tsx';
import { ApiError } from '../../web/src/lib/api.ts';
import type { StrategyApi, StrategyInfo } from '../../web/src/strategy/api.ts';
import { StaticSource } from './fakes.ts';
import { buttonByText, click, mount, submitForm, type, type Mounted } from './dom.ts';
import { FakeSchedulerApi, T0, liveSnapshot } from './scheduler-fakes.ts';

class FakeStrategyApi implements StrategyApi {
  state: StrategyState = { name: 'priority_based', config: strategyDefaults('priority_based'), since: T0 };
  admin = true;
  puts: StrategyPut[] = [];
  onPut: (body: StrategyPut) => Promise<StrategyState> = (body) => {
    this.state = { name: body.name, config: body.config ?? strategyDefaults(body.name), since: this.state.since + 1000 };
    return Promise.resolve(this.state);
  };
  strategies() {
    const names = Object.keys(STRATEGY_CONFIG_SCHEMAS) as StrategyName[];
    const strategies: StrategyInfo[] = names.map((name) => ({
      name,
      description: STRATEGY_DESCRIPTIONS[name],
      configSchema: z.toJSONSchema(STRATEGY_CONFIG_SCHEMAS[name]) as Record<string, unknown>,
      defaults: strategyDefaults(name) as Record<string, unknown>,
      current: name === this.state.name,
    }));
    return Promise.resolve({ strategies });
  }
  put(body: StrategyPut) {
    this.puts.push(body);
    return this.onPut(body);
  }
  current() {
    return Promise.resolve(this.state);
  }
  session() {
    return Promise.resolve({ auth: true, admin: this.admin, role: this.admin ? 'admin' as const : 'operator' as const });
  }
  performance() {
    return Promise.reject(new ApiError(404, 'not_found', 'no route'));
  }
  compare(_body: CompareBody) {
    return Promise.reject(new ApiError(404, 'not_found', 'no route'));
  }
}

let view: Mounted;
let strategies: FakeStrategyApi;

beforeEach(async () => {
  history.replaceState(null, '', '/strategy');
  strategies = new FakeStrategyApi();
  const scheduler = new FakeSchedulerApi();
  scheduler.current = strategies.state;
  view = await mount(<App source={new StaticSource(liveSnapshot())} schedulerApi={scheduler} strategyApi={strategies} />);
});
afterEach(() => view.unmount());

const card = (name: string) => view.container.querySelector<HTMLElement>(`[data-testid="strategy-card"][data-strategy="${name}"]`)!;
const field = (path: string) => view.container.querySelector<HTMLElement>(`[data-testid="config-field"][data-path="${path}"]`)!;
const control = (path: string) => field(path).querySelector<HTMLInputElement>('input, select, textarea')!;

describe('strategy panel', () => {
  it('switches with one click and says which one is in charge', async () => {
    expect(view.byTestId('strategy-card')).toHaveLength(6);
    expect(view.text('current-strategy')).toBe('priority_based');
    expect(card('priority_based').querySelector('[data-testid="switch"]')).toBeNull();
    await click(card('time_slicing').querySelector('[data-testid="switch"]'));
    expect(strategies.puts).toEqual([{ name: 'time_slicing' }]);
    expect(view.text('current-strategy')).toBe('time_slicing');
    expect(view.text('strategy-current')).toBe('time slicing');
    expect(card('time_slicing').className).toContain('current');
  });

  it('offers no switch to a session without the admin right', async () => {
    view.unmount();
    strategies.admin = false;
    view = await mount(<App source={new StaticSource(liveSnapshot())} schedulerApi={new FakeSchedulerApi()} strategyApi={strategies} />);
    expect(view.text('read-only')).toContain('admin token');
    expect(view.byTestId<HTMLButtonElement>('switch').every((b) => b.disabled)).toBe(true);
    expect(view.byTestId<HTMLButtonElement>('configure').every((b) => b.disabled)).toBe(true);
  });

  it('turns the switches off when the server says this token may not change the strategy', async () => {
    strategies.onPut = () => Promise.reject(new ApiError(403, 'forbidden', 'this needs the admin token (--admin-token / ARBITER_ADMIN_TOKEN)'));
    await click(card('hybrid').querySelector('[data-testid="switch"]'));
    expect(view.text('switch-error')).toContain('needs the admin token');
    const switches = view.byTestId<HTMLButtonElement>('switch');
    expect(switches.length).toBe(5);
    expect(switches.every((b) => b.disabled)).toBe(true);
    expect(view.text('current-strategy')).toBe('priority_based');
  });

  it('builds the config form from the schema, with the current values, and sends a config the schema accepts', async () => {
    await click(card('fair_sharing').querySelector('[data-testid="configure"]'));
    const form = view.byTestId('config-form')[0]!;
    expect(form.getAttribute('data-strategy')).toBe('fair_sharing');
    // every leaf of the schema has a control: numbers as text, booleans as checkboxes, nested objects as groups
    expect(control('halfLifeMs').value).toBe('3600000');
    expect(field('halfLifeMs').textContent).toContain('half life (ms)');
    expect(field('halfLifeMs').textContent).toContain('integer 1000–31622400000');
    expect(control('defaultWeight').value).toBe('1');
    expect(control('preemption.enabled').type).toBe('checkbox');
    expect(control('preemption.enabled').checked).toBe(false);
    expect(control('preemption.utilisationThreshold').value).toBe('0.9');
    expect(form.querySelector('fieldset.cfg-group legend')?.textContent).toBe('preemption');
    expect(field('ownerWeights').textContent).toContain('none');

    await type(control('halfLifeMs'), '7200000');
    await click(control('preemption.enabled'));
    await click(buttonByText(field('ownerWeights'), 'add'));
    const [name, value] = [...field('ownerWeights').querySelectorAll<HTMLInputElement>('.record-row input')];
    await type(name, 'ana');
    await type(value, '2');
    await submitForm(form);

    expect(strategies.puts).toHaveLength(1);
    const sent = strategies.puts[0]!;
    expect(sent.name).toBe('fair_sharing');
    expect(sent.config).toEqual({
      halfLifeMs: 7_200_000, ownerWeights: { ana: 2 }, groupWeights: {}, defaultWeight: 1,
      preemption: { enabled: true, utilisationThreshold: 0.9, starvedForMs: 300_000, gracePeriodMs: 30_000 },
    });
    expect(STRATEGY_CONFIG_SCHEMAS.fair_sharing.safeParse(sent.config).success).toBe(true);
    // saved: the form closes, the new strategy is in charge with that config
    expect(view.byTestId('config-form')).toHaveLength(0);
    expect(view.text('current-strategy')).toBe('fair_sharing');
    expect(view.text('config-summary')).toContain('halfLifeMs7200000');
  });

  it('shows lists and the server’s 400 at the field it names', async () => {
    await click(card('time_slicing').querySelector('[data-testid="configure"]'));
    expect(control('queueThresholds').value).toBe('3600000, 36000000');
    expect(control('allowMultiSlot').checked).toBe(false);

    strategies.onPut = () =>
      Promise.reject(new ApiError(400, 'invalid_request', 'invalid config', [
        { field: 'config.replicas', message: 'Too big: expected number to be <=64' },
        { field: 'config.queueThresholds.1', message: 'Invalid input: expected number, received string' },
      ]));
    await type(control('replicas'), '65');
    await type(control('queueThresholds'), '3600000, lots');
    await submitForm(view.byTestId('config-form')[0]!);
    expect(strategies.puts.at(-1)).toEqual({ name: 'time_slicing', config: expect.objectContaining({ replicas: 65, queueThresholds: [3_600_000, 'lots'] }) });
    expect(field('replicas').querySelector('[data-testid="field-error"]')?.textContent).toBe('Too big: expected number to be <=64');
    expect(control('replicas').getAttribute('aria-invalid')).toBe('true');
    expect(field('queueThresholds').querySelector('[data-testid="field-error"]')?.textContent).toContain('expected number');
    expect(field('quantumMs').querySelector('[data-testid="field-error"]')).toBeNull();
    // still open, still the old strategy
    expect(view.byTestId('config-form')).toHaveLength(1);
    expect(view.text('current-strategy')).toBe('priority_based');
  });
});

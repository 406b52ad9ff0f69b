/** Rendering the dashboard into jsdom for component tests: mount, act-wrapped input, queries by test id. */
import { act, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

export interface Mounted {
  container: HTMLDivElement;
  byTestId<E extends HTMLElement = HTMLElement>(id: string, el?: ParentNode): E[];
  text(id: string, el?: ParentNode): string | null;
  unmount(): void;
}

export async function mount(node: ReactNode): Promise<Mounted> {
  const container = document.createElement('div');
  document.body.append(container);
  const root: Root = createRoot(container);
  await act(async () => root.render(node));
  await settle();
  const byTestId = <E extends HTMLElement = HTMLElement>(id: string, el: ParentNode = container) => [...el.querySelectorAll<E>(`[data-testid="${id}"]`)];
  return {
    container,
    byTestId,
    text: (id, el = container) => byTestId(id, el)[0]?.textContent ?? null,
    unmount() {
      act(() => root.unmount());
      container.remove();
    },
  };
}

/** Let resolved promises (fake API answers), lazily loaded views and the renders they cause run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await act(async () => undefined);
  // a view still loading its code: wait for it (bounded)
  for (let i = 0; i < 100 && document.querySelector('[data-testid="view-loading"]'); i++) {
    await act(async () => new Promise((r) => setTimeout(r, 10)));
  }
  for (let i = 0; i < 3; i++) await act(async () => undefined);
}

export async function click(el: Element | null | undefined): Promise<void> {
  if (!el) throw new Error('nothing to click');
  await act(async () => (el as HTMLElement).click());
  await settle();
}

/** Type into an input or textarea as a user would (React listens to `input`). */
export async function type(el: Element | null | undefined, value: string): Promise<void> {
  if (!el) throw new Error('nothing to type into');
  const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  const setter = Object.getOwnPropertyDescriptor(proto, 'value')!.set!;
  await act(async () => {
    setter.call(el, value);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

export async function submitForm(form: Element | null | undefined): Promise<void> {
  if (!form) throw new Error('no form');
  await act(async () => (form as HTMLFormElement).requestSubmit());
  await settle();
}

export function buttonByText(root: ParentNode, text: string): HTMLButtonElement | undefined {
  return [...root.querySelectorAll('button')].find((b) => b.textContent?.trim() === text);
}

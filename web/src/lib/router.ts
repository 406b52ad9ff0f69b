/**
 * Views as paths (`/gpus`, `/scheduler#request-…`): the server answers every non-API path with the dashboard,
 * so a link can be opened, bookmarked and shared. History API only; no router library.
 */
import { createElement, useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

export const VIEWS = [
  { path: '/', label: 'Overview' },
  { path: '/gpus', label: 'GPUs' },
  { path: '/containers', label: 'Containers' },
  { path: '/scheduler', label: 'Scheduler' },
  { path: '/strategy', label: 'Strategy' },
  { path: '/tasks', label: 'Tasks' },
  { path: '/workers', label: 'Workers' },
  { path: '/workflows', label: 'Workflows' },
  { path: '/events', label: 'Events' },
  { path: '/history', label: 'History' },
] as const;
export type ViewPath = (typeof VIEWS)[number]['path'];

export interface Location {
  path: ViewPath | string;
  /** without the `#` */
  hash: string;
  search: string;
}

const NAVIGATE = 'arbiter:navigate';
let cached: Location | null = null;
let cachedHref = '';

function read(): Location {
  if (typeof location === 'undefined') return { path: '/', hash: '', search: '' };
  if (cached && cachedHref === location.href) return cached;
  cachedHref = location.href;
  cached = { path: location.pathname.replace(/\/+$/, '') || '/', hash: decodeURIComponent(location.hash.slice(1)), search: location.search };
  return cached;
}

function subscribe(fn: () => void): () => void {
  addEventListener('popstate', fn);
  addEventListener('hashchange', fn);
  addEventListener(NAVIGATE, fn);
  return () => {
    removeEventListener('popstate', fn);
    removeEventListener('hashchange', fn);
    removeEventListener(NAVIGATE, fn);
  };
}

export function useLocation(): Location {
  return useSyncExternalStore(subscribe, read, read);
}

export function navigate(to: string): void {
  if (to === location.pathname + location.search + location.hash) {
    dispatchEvent(new Event(NAVIGATE)); // same place: still scroll to the target again
    return;
  }
  history.pushState(null, '', to);
  dispatchEvent(new Event(NAVIGATE));
}

/** Replace the query string of this page (no new history entry), e.g. a filter a reload should keep. */
export function replaceSearch(search: string): void {
  const q = search && !search.startsWith('?') ? `?${search}` : search;
  if (q === location.search) return;
  history.replaceState(history.state, '', location.pathname + q + location.hash);
  dispatchEvent(new Event(NAVIGATE));
}

/** An `<a href>` that navigates in place (new tab, modifiers and middle click work as usual). */
export function Link({ to, onClick, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  return createElement('a', {
    ...rest,
    href: to,
    onClick: (e: MouseEvent<HTMLAnchorElement>) => {
      onClick?.(e);
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(to);
    },
  });
}

/** The element a hash names, brought into view and briefly marked, once the view has rendered it. */
export function revealTarget(id: string): boolean {
  if (!id) return false;
  const el = document.getElementById(id);
  if (!el) return false;
  el.scrollIntoView?.({ block: 'center', behavior: 'auto' });
  if (typeof el.animate === 'function') {
    el.animate([{ outline: '3px solid var(--focus)', outlineOffset: '2px' }, { outline: '3px solid transparent', outlineOffset: '2px' }], {
      duration: 1600,
      easing: 'ease-out',
    });
  }
  return true;
}

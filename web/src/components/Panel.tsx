import { useId, type ReactNode } from 'react';
import type { Health } from '../../../shared/resources.ts';
import { HealthBadge } from './HealthBadge.tsx';

export interface PanelProps {
  title: string;
  health?: Health | null;
  /** extra header content, right-aligned */
  aside?: ReactNode;
  wide?: boolean;
  testId?: string;
  children: ReactNode;
}

/** A titled card of the dashboard grid. */
export function Panel({ title, health, aside, wide, testId, children }: PanelProps) {
  const id = useId();
  return (
    <section className={wide ? 'panel panel-wide' : 'panel'} aria-labelledby={id} data-testid={testId} id={testId} tabIndex={testId ? -1 : undefined}>
      <header className="panel-head">
        <h2 id={id}>{title}</h2>
        {aside}
        {health ? <HealthBadge health={health} /> : null}
      </header>
      {children}
    </section>
  );
}

/** Shown in a panel until the first sample arrives (same height as the content, so nothing jumps). */
export function Waiting({ what = 'first sample' }: { what?: string }) {
  return <p className="waiting">waiting for {what}…</p>;
}

/**
 * The shape React's useSyncExternalStore wants, for the dashboard's stores: listeners, an immutable snapshot built
 * anew on every change (with a version that counts changes), `subscribe` and `getSnapshot` as stable functions.
 */
export abstract class ExternalStore<S> {
  /** changes so far */
  protected version = 0;
  private readonly listeners = new Set<() => void>();
  private current: S | undefined;

  /** The snapshot of the store's state now. */
  protected abstract build(): S;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): S => (this.current ??= this.build());

  /** Something changed: a new snapshot, and every listener told. */
  protected changed(): void {
    this.version++;
    this.current = this.build();
    for (const l of this.listeners) l();
  }
}

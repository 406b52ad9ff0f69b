/**
 * A configuration read again on a running server (`arbiter serve` on SIGHUP): flags > environment > file, as at
 * start. What can change without a restart is applied: the log level, the host and container sample intervals,
 * the health thresholds and the hint thresholds. Any other option that changed is named in the log as needing a
 * restart and keeps its running value; a configuration that does not load is logged and the running one kept.
 */
import { CONFIG_KEYS, getPath, setPath, type Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { MonitorLoop } from '../monitor/loop.ts';

/** The options a running server takes on SIGHUP. */
export const LIVE_OPTIONS: ReadonlySet<string> = new Set([
  'logLevel', 'monitor.hostIntervalMs', 'monitor.dockerIntervalMs', 'hints.leaseWarningMs', 'hints.longWaitMs',
  ...CONFIG_KEYS.filter((k) => k.startsWith('health.')),
]);

export interface LiveParts {
  /**
   * The running configuration, changed in place: the sources read their thresholds from its `health` objects at
   * every sample, the hint rules theirs from its `hints` object at every evaluation.
   */
  config: Config;
  /** the root logger: its children follow its level */
  log: Logger;
  loop: Pick<MonitorLoop, 'setIntervalMs'>;
}

export interface ReloadOutcome {
  /** the options changed and applied */
  applied: string[];
  /** the options changed that take effect only after a restart */
  needRestart: string[];
}

/** The keys whose values differ between two configurations. */
export function changedOptions(a: Config, b: Config): string[] {
  return CONFIG_KEYS.filter((k) => JSON.stringify(getPath(a, k)) !== JSON.stringify(getPath(b, k)));
}

/** Read the configuration with `read` and apply what a running server can take; null when it did not load. */
export function reloadConfig(read: () => Config, { config, log, loop }: LiveParts): ReloadOutcome | null {
  let next: Config;
  try {
    next = read();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.error({ reason: message }, `configuration not reloaded, the running one is kept: ${message}`);
    return null;
  }
  const changed = changedOptions(config, next);
  const applied = changed.filter((k) => LIVE_OPTIONS.has(k));
  const needRestart = changed.filter((k) => !LIVE_OPTIONS.has(k));
  for (const key of applied) setPath(config as unknown as Record<string, unknown>, key, getPath(next, key));
  log.level = config.logLevel;
  loop.setIntervalMs('host', config.monitor.hostIntervalMs);
  loop.setIntervalMs('docker', config.monitor.dockerIntervalMs);
  log.info({ applied }, applied.length ? `configuration reloaded: ${applied.join(', ')} changed` : 'configuration reloaded: nothing to change');
  if (needRestart.length) log.warn({ needRestart }, `changed options that need a restart to take effect: ${needRestart.join(', ')}`);
  return { applied, needRestart };
}

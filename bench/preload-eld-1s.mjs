// Preload (`node --import`) for monitor-cpu's "what if" server: the event-loop-delay histogram that prom-client's
// default metrics create (perf_hooks.monitorEventLoopDelay, 10 ms resolution = a timer waking the loop 100 times
// a second) at 1 s resolution instead, as `collectDefaultMetrics({ eventLoopMonitoringPrecision: 1000 })` would.
import { createRequire } from 'node:module';

const perfHooks = createRequire(import.meta.url)('node:perf_hooks');
const original = perfHooks.monitorEventLoopDelay;
perfHooks.monitorEventLoopDelay = (options = {}) => original({ ...options, resolution: 1000 });

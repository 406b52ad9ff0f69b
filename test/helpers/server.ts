/** Start a real Arbiter server on 127.0.0.1, port 0, with its own data dir; close() removes it again. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../server/config.ts';
import { startApp, type App, type AppDeps } from '../../server/app.ts';

export interface TestServerOptions extends AppDeps {
  hostIntervalMs?: number;
  /** reuse a data dir (restart tests); otherwise a fresh temp dir, removed on close */
  dataDir?: string;
  /** adjust the resolved config */
  configure?: (c: Config) => void;
}

export interface TestServer {
  url: string;
  token: string;
  app: App;
  dataDir: string;
  close(): Promise<void>;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'arbiter-test-'));
  const config = loadConfig({}, { ARBITER_PORT: '0', ARBITER_DATA_DIR: dataDir, ARBITER_LOG_LEVEL: 'silent' });
  if (opts.hostIntervalMs) config.monitor.hostIntervalMs = opts.hostIntervalMs;
  // tests see only the sources they ask for: a fake one through deps, or the real one turned on in `configure`
  config.monitor.gpu = false;
  config.monitor.docker = false;
  opts.configure?.(config);
  const app = await startApp(config, opts);
  return {
    url: app.url,
    token: app.token,
    app,
    dataDir,
    async close() {
      await app.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The command line: `arbiter serve` (more commands come with later features). Wires config to the app, nothing else. */
import { Command, Option } from 'commander';
import { ConfigError, OPTIONS, flagAttribute, loadConfig } from './config.ts';
import { startApp } from './app.ts';
import { ensureWebBundle } from './webbuild.ts';
import { VERSION } from './version.ts';

const program = new Command('arbiter')
  .description('Arbiter: live resource monitor and scheduler for shared GPU/CPU machines')
  .version(VERSION);

const serve = program.command('serve').description('sample this machine and serve the API, push streams and dashboard');
serve.addOption(new Option('--config <file>', 'JSON or YAML config file (env ARBITER_CONFIG)'));
for (const opt of OPTIONS) {
  const def = opt.default === undefined ? '' : ` (default: ${JSON.stringify(opt.default)})`;
  serve.addOption(new Option(opt.flag, `${opt.doc}; env ${opt.env.join(' or ')}${opt.flag.startsWith('--no-') ? '' : def}`));
}

serve.action(async () => {
  // only what the user typed counts as a flag: defaults come later, after env and file
  const flags: Record<string, unknown> = {};
  for (const opt of [...OPTIONS.map((o) => o.flag), '--config <file>']) {
    const attr = flagAttribute(opt);
    if (serve.getOptionValueSource(attr) === 'cli') flags[attr] = serve.getOptionValue(attr);
  }
  let config;
  try {
    config = loadConfig(flags, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`arbiter: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (config.webBuild) await ensureWebBundle((msg) => process.stderr.write(`${msg}\n`));
  const app = await startApp(config);
  const dashboard = config.auth ? `${app.url}/?token=${app.token}` : `${app.url}/`;
  process.stdout.write(`Arbiter ${VERSION} is running.\n  Dashboard: ${dashboard}\n  API:       ${app.url}/api (token in ${config.dataDir}/token)\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`arbiter: ${signal}, shutting down\n`);
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    app.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
});

await program.parseAsync(process.argv);

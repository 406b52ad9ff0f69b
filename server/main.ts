/** The command line: `arbiter serve`, `agent`, `simulate`, `instance`, `worker`, `token` and `doctor`. Wires config to the app (or the simulator), nothing else. */
import { Command, Option } from 'commander';
import { ConfigError, NODE_MONITOR_OPTIONS, OPTIONS, flagAttribute, loadConfig, type OptionSpec } from './config.ts';
import { VERSION } from './version.ts';

const program = new Command('arbiter')
  .description('Arbiter: live resource monitor and scheduler for shared GPU/CPU machines')
  .version(VERSION);

/** The config options as the command's flags, each with its meaning, environment and default. */
function addConfigOptions(cmd: Command, specs: readonly OptionSpec[]): void {
  for (const opt of specs) {
    const def = opt.default === undefined ? '' : ` (default: ${JSON.stringify(opt.default)})`;
    cmd.addOption(new Option(opt.flag, `${opt.doc}; env ${opt.env.join(' or ')}${opt.flag.startsWith('--no-') ? '' : def}`));
  }
}

/** Only what the user typed counts as a flag: defaults come later, after env (and file). */
function typedFlags(cmd: Command, flags: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const flag of flags) {
    const attr = flagAttribute(flag);
    if (cmd.getOptionValueSource(attr) === 'cli') out[attr] = cmd.getOptionValue(attr);
  }
  return out;
}

const serve = program.command('serve').description('sample this machine and serve the API, push streams and dashboard');
serve.addOption(new Option('--config <file>', 'JSON or YAML config file (env ARBITER_CONFIG)'));
addConfigOptions(serve, OPTIONS);

serve.action(async () => {
  const flags = typedFlags(serve, [...OPTIONS.map((o) => o.flag), '--config <file>']);
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
  // the server's modules are loaded by `serve` only: the other commands start without them
  const [{ startApp }, { ensureWebBundle }] = await Promise.all([import('./app.ts'), import('./webbuild.ts')]);
  if (config.webBuild) await ensureWebBundle((msg) => process.stderr.write(`${msg}\n`));
  // with a shared PostgreSQL store, one of the hub replicas leads and the others follow (server/replica.ts)
  const app = config.database ? await (await import('./replica.ts')).serveReplica(config) : await startApp(config);
  const signIn = config.auth ? `?token=${app.token}` : '';
  const tokenFrom = config.token !== undefined ? 'the token given with --token' : `token in ${config.dataDir}/token`;
  process.stdout.write(`Arbiter ${VERSION} is running.\n  Dashboard: ${app.url}/${signIn}\n  API:       ${app.url}/api (${tokenFrom})\n`
    + `  API docs:  ${app.url}/docs${signIn}\n`);

  // last resort: a promise nobody awaited that rejects (a Docker call racing a container's removal) is logged, and
  // the server goes on serving instead of ending with it
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`arbiter: an operation failed and nothing handled it (the server goes on): ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  });
  // and an exception thrown where nothing catches it (a listener of a socket, a timer): logged, and the server goes
  // on serving its other clients — one client's bad input must not end everyone's service
  process.on('uncaughtException', (err) => {
    process.stderr.write(`arbiter: an exception nothing caught (the server goes on): ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  });

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
  // the config file (and environment) read again; what can change live is applied, the rest named (runtime/reload.ts)
  process.on('SIGHUP', () => {
    if (stopping) return;
    if ('reload' in app) app.reload(() => loadConfig(flags, process.env));
    else process.stderr.write('arbiter: SIGHUP: hub replicas (--database) do not reload their configuration: restart them to change it\n');
  });
});

const AGENT_FLAGS = ['--hub <url>', '--token <token>', '--ack-timeout-ms <ms>', '--advertise-host <host>', '--data-dir <dir>', '--no-workers'];
const agent = program.command('agent').description("monitor this node (host, GPUs, containers) and report it to a hub's /agents namespace")
  .option(AGENT_FLAGS[0]!, "the hub's base URL, e.g. http://hub:7070")
  .option(AGENT_FLAGS[1]!, "the hub's agent token (its --agent-token); default: env ARBITER_AGENT_TOKEN")
  .option(AGENT_FLAGS[2]!, "how long a snapshot waits for the hub's ack before it is sent again (default: 10000)")
  .option(AGENT_FLAGS[3]!, "where the hub reaches this node's workers (default: the address the hub sees this agent connect from)")
  .option(AGENT_FLAGS[4]!, "where the workers' logs and state are kept (default: ./.arbiter-agent)")
  .option(AGENT_FLAGS[5]!, 'run no workers: only report this node')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
addConfigOptions(agent, NODE_MONITOR_OPTIONS);
agent.action(async () => {
  const { runAgentCommand } = await import('./agent/cli.ts');
  await runAgentCommand(typedFlags(agent, [...AGENT_FLAGS, ...NODE_MONITOR_OPTIONS.map((o) => o.flag)]), process.env);
});

const sim = program.command('simulate').description('replay a GPU cluster trace (Alibaba v2023 format) under each strategy and print the evaluation table')
  .requiredOption('--trace <path>', 'pod list .csv, or a directory holding *openb_pod_list_default.csv')
  .option('--nodes-from <file>', 'build the cluster from a node list (openb_node_list_*.csv): each node its cpu, memory, GPUs and model')
  .option('--nodes <n>', 'nodes of the virtual cluster', '16')
  .option('--gpus-per-node <n>', 'GPUs per node', '8')
  .option('--cpu-per-node <millicores>', 'cpu per node', '128000')
  .option('--memory-per-node <MiB>', 'memory per node', '786432')
  .option('--gpu-memory <MiB>', 'memory of one GPU (fractional pods ask gpu_milli of it)', '16384')
  .option('--strategies <list>', 'comma-separated strategy names, or all', 'all')
  .option('--time-scale <k>', 'divide submit times by k (compress arrivals; durations unchanged)', '1')
  .option('--owners <n>', 'owners the pod names are hashed into (the trace has none)', '8')
  .option('--owner-by <how>', 'hash (pod name into --owners owners) or qos (one owner per qos class)', 'hash')
  .option('--starvation-ms <ms>', 'a request waiting longer counts as starved', '600000')
  .option('--preemptible <which>', 'be (only the trace\'s best-effort pods may be preempted) or all (every pod: jobs that checkpoint)', 'be')
  .option('--strategy-config <file>', 'JSON {"<strategy>": {config}} for the strategies replayed')
  .option('--durations <how>', 'given (each request states its job\'s length) or hidden (none does)', 'given')
  .option('--experiment <name>', 'replay (the trace as recorded) or inflation (pods drawn from the trace until the arrived GPU demand reaches the capacity, no departures: the FGD paper\'s experiment)', 'replay')
  .option('--placements <list>', 'inflation: comma-separated placements (fgd, random, dot_product, gpu_clustering, gpu_packing, best_fit, resource_pooling, load_balancing), or all', 'all')
  .option('--seed <n>', 'inflation: seed of the pods drawn', '1')
  .option('--fgd-weighting <how>', 'inflation: FGD weighs the task types by count (the paper) or by the GPU demand they bring', 'count')
  .option('--plot <file.svg>', 'inflation: write the chart of unallocated GPUs vs arrived demand there')
  .option('--json', 'print JSON', false);
sim.action(async () => {
  const { runSimulate, formatTable } = await import('./sim/cli.ts');
  const o = sim.opts();
  try {
    if (o.experiment === 'inflation') {
      const { runInflationExperiment, formatInflation } = await import('./sim/inflation-cli.ts');
      const out = runInflationExperiment({
        trace: o.trace, ...(o.nodesFrom ? { nodesFrom: o.nodesFrom } : {}), nodes: o.nodes, gpusPerNode: o.gpusPerNode, cpuPerNode: o.cpuPerNode,
        memoryPerNode: o.memoryPerNode, experiment: 'inflation', placements: o.placements, seed: o.seed, fgdWeighting: o.fgdWeighting, ...(o.plot ? { plot: o.plot } : {}),
      });
      if (o.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      else process.stdout.write(`workload inflation: pods drawn from ${out.trace} (seed ${out.seed}) onto ${out.nodes} nodes, ${out.gpus} GPUs\n\n${formatInflation(out)}\n`);
      return;
    }
    if (o.experiment !== 'replay') throw new Error(`--experiment: replay or inflation, not ${JSON.stringify(o.experiment)}`);
    const out = runSimulate({
      trace: o.trace, ...(o.nodesFrom ? { nodesFrom: o.nodesFrom } : {}), nodes: o.nodes, gpusPerNode: o.gpusPerNode, cpuPerNode: o.cpuPerNode, memoryPerNode: o.memoryPerNode,
      gpuMemory: o.gpuMemory, strategies: o.strategies, timeScale: o.timeScale, owners: o.owners, ownerBy: o.ownerBy, starvationMs: o.starvationMs, durations: o.durations,
      preemptible: o.preemptible, ...(o.strategyConfig ? { strategyConfig: o.strategyConfig } : {}), json: Boolean(o.json),
    });
    if (o.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    else {
      const cluster = out.nodesFrom !== undefined ? `the ${out.nodes} nodes (${out.gpus} GPUs) of ${out.nodesFrom}` : `${out.nodes} nodes × ${out.gpusPerNode} GPUs`;
      process.stdout.write(`${out.jobs} jobs from ${out.trace} on ${cluster}, time scale ${out.timeScale}\n\n${formatTable(out)}\n`);
    }
  } catch (err) {
    process.stderr.write(`arbiter simulate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
});

const inst = program.command('instance').description('run a reference task instance (synthetic workload) that takes tasks from Arbiter and reports them done')
  .option('--port <n>', 'port to listen on (0 = any free port)')
  .option('--model <name>', 'the model it serves')
  .option('--scheduler <url>', "Arbiter's URL, for completion notices and --register")
  .option('--host <addr>', 'address to listen on (default: 127.0.0.1)')
  .option('--exec-ms-mean <ms>', "mean of a task's execution time, unless its metadata.exec_ms says (default: 200)")
  .option('--exec-ms-sd <ms>', 'its standard deviation (default: 50)')
  .option('--concurrency <n>', 'tasks run at once (default: 1)')
  .option('--token <token>', "Arbiter's API token (default: env ARBITER_TOKEN)")
  .option('--register', 'register with Arbiter at start (POST /ti/register), remove itself at stop')
  .option('--advertise-host <host>', 'host Arbiter reaches it at (default: --host, or 127.0.0.1)')
  .option('--instance-id <id>', 'its id (default: a random UUID)')
  .option('--max-pending-notices <n>', 'tasks held and completion notices Arbiter has not taken, at most; past it new tasks get 503 (default: 10000)')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
inst.action(async () => {
  const { runInstanceCommand } = await import('./instance/cli.ts');
  await runInstanceCommand(inst.opts(), process.env);
});

const doctor = program.command('doctor').description('check what this machine gives Arbiter (Node, data dir, port, nvidia-smi and its driver, the Docker/Podman socket, the container toolkit, pid namespace, /proc), each with its fix; exit 0 when what the config asks for is usable');
doctor.addOption(new Option('--config <file>', 'JSON or YAML config file (env ARBITER_CONFIG)'));
addConfigOptions(doctor, OPTIONS);
doctor.option('--json', 'print JSON');
doctor.action(async () => {
  let config;
  try {
    config = loadConfig(typedFlags(doctor, [...OPTIONS.map((o) => o.flag), '--config <file>']), process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`arbiter: ${err.message}\n`);
    process.exit(2);
  }
  const { diagnose, exitCode, formatChecks } = await import('./runtime/doctor.ts');
  const checks = await diagnose(config, { port: true });
  process.stdout.write(doctor.opts().json ? `${JSON.stringify({ checks }, null, 2)}\n` : formatChecks(checks));
  process.exitCode = exitCode(checks);
});

const token = program.command('token').description('named API tokens, each with a role (viewer, operator, admin) and the owner it acts for: create, list, revoke');
/** The store's place, as `serve` finds it (flags > env > config file). */
const STORE_FLAGS = ['--data-dir <dir>', '--database <url>'];
function tokenCommand(name: string, description: string): Command {
  const cmd = token.command(name).description(description).option('--config <file>', 'JSON or YAML config file (env ARBITER_CONFIG)');
  addConfigOptions(cmd, OPTIONS.filter((o) => STORE_FLAGS.includes(o.flag)));
  return cmd.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
}
async function runToken(cmd: Command, what: Omit<import('./store/token-cli.ts').TokenCommand, 'json'>): Promise<void> {
  let config;
  try {
    config = loadConfig(typedFlags(cmd, [...STORE_FLAGS, '--config <file>']), process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`arbiter: ${err.message}\n`);
    process.exit(2);
  }
  const { runTokenCommand } = await import('./store/token-cli.ts');
  const io = { out: (s: string) => void process.stdout.write(s), err: (s: string) => void process.stderr.write(s) };
  process.exitCode = runTokenCommand({ ...what, json: Boolean(cmd.opts().json) }, { dataDir: config.dataDir, ...(config.database ? { database: config.database } : {}) }, io);
}
const tokenCreate = tokenCommand('create', 'make a token (printed once on stdout; only its hash is stored)')
  .requiredOption('--name <name>', 'who it is for: letters, digits and . _ @ -')
  .requiredOption('--role <role>', 'viewer (read, subscribe), operator (also submit, release, workers, tasks, workflows) or admin (also strategy, policies, instances, tokens)')
  .option('--any-owner', 'may act for any owner (default: only for the owner named like the token)');
tokenCreate.action(() => runToken(tokenCreate, { action: 'create', name: tokenCreate.opts().name, role: tokenCreate.opts().role, bindOwner: !tokenCreate.opts().anyOwner }));
const tokenList = tokenCommand('list', 'list the named tokens (never the tokens themselves)').option('--json', 'print JSON');
tokenList.action(() => runToken(tokenList, { action: 'list' }));
const tokenRevoke = tokenCommand('revoke', 'revoke a token: a running server refuses it within 5 s').argument('<name>', 'the token\'s name');
tokenRevoke.action((name: string) => runToken(tokenRevoke, { action: 'revoke', name }));

const worker = program.command('worker').description('run a worker: hold an engine (an ES module export) and call its methods over HTTP (GET /health, POST /engine, POST /call)')
  .option('--port <n>', 'port to listen on, 0 = any free port (default: env ARBITER_PORT)')
  .option('--host <addr>', 'address to listen on (default: env ARBITER_HOST, else 127.0.0.1)')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
worker.action(async () => {
  const { runWorkerCommand } = await import('./worker/cli.ts');
  await runWorkerCommand(worker.opts(), process.env);
});

await program.parseAsync(process.argv);

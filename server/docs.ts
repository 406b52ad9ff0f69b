/**
 * `npm run docs`: rewrites the option table in README.md and examples/config.yaml from the OPTIONS declared in
 * config.ts (tests check that both are in step).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configFileYaml, optionsMarkdown } from './config.ts';
import { packagePath } from './paths.ts';
import { LIVE_OPTIONS } from './runtime/reload.ts';

/** examples/config.yaml: the layout of /etc/arbiter/config.yaml for examples/arbiter.service. */
export function exampleConfigYaml(): string {
  return `# Arbiter's configuration for \`arbiter serve --config /etc/arbiter/config.yaml\` (examples/arbiter.service).
# Every option with its meaning and default, generated from server/config.ts by \`npm run docs\`; the only value
# that is not the default is dataDir (the unit's StateDirectory). A flag or an ARBITER_* environment variable
# takes precedence over this file. On SIGHUP (\`systemctl reload arbiter\`) \`arbiter serve\` reads it again and
# applies the options marked "SIGHUP applies it"; it logs the other changes as needing a restart, and keeps the
# running configuration when the file does not load. Only a file can declare \`resources\` (the inventory the
# scheduler hands out), \`dispatch.instances\` and \`dispatch.predictor\`: see the README's Configuration.

${configFileYaml({ dataDir: '/var/lib/arbiter' }, LIVE_OPTIONS)}`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const path = packagePath('README.md');
  const readme = readFileSync(path, 'utf8');
  const start = readme.indexOf('| flag | environment |');
  const end = readme.indexOf('\n\n', start);
  if (start < 0 || end < 0) throw new Error('README.md has no option table to replace');
  writeFileSync(path, `${readme.slice(0, start)}${optionsMarkdown()}${readme.slice(end)}`);
  writeFileSync(packagePath('examples', 'config.yaml'), exampleConfigYaml());
}

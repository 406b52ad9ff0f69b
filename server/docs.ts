/** `npm run docs`: rewrites the option table in README.md from the OPTIONS declared in config.ts. */
import { readFileSync, writeFileSync } from 'node:fs';
import { optionsMarkdown } from './config.ts';
import { packagePath } from './paths.ts';

const path = packagePath('README.md');
const readme = readFileSync(path, 'utf8');
const start = readme.indexOf('| flag | environment |');
const end = readme.indexOf('\n\n', start);
if (start < 0 || end < 0) throw new Error('README.md has no option table to replace');
writeFileSync(path, `${readme.slice(0, start)}${optionsMarkdown()}${readme.slice(end)}`);

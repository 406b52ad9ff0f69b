import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OPTIONS, optionsMarkdown } from '../../server/config.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('states the two setup commands first', () => {
    const blocks = [...readme.matchAll(/```sh\n(.*?)\n```/gs)].map((m) => m[1]);
    expect(blocks.slice(0, 2)).toEqual(['npm install && npm start', 'npm test']);
  });
  it('has the option table generated from config.ts (run `npm run docs` after changing an option)', () => {
    expect(readme).toContain(optionsMarkdown());
  });
  it('documents every option with its flag, environment variable and default', () => {
    for (const o of OPTIONS) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${o.flag}\``));
      expect(row, o.flag).toBeDefined();
      for (const e of o.env) expect(row).toContain(`\`${e}\``);
      if (o.default !== undefined) expect(row).toContain(`\`${JSON.stringify(o.default)}\``);
    }
  });
});

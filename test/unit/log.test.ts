/** No log line carries a secret: headers, tokens and passwords censored; tokens in URLs and passwords in URLs scrubbed. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactSecrets } from '../../server/log.ts';

const SECRET = 'S3cr3t-t0ken-0123456789';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return { log: createLogger('debug', stream), lines };
}

describe('the logger', () => {
  it('censors the fields that hold secrets, at any of the first levels and in headers', () => {
    const { log, lines } = capture();
    log.info({ token: SECRET, agentToken: SECRET, adminToken: SECRET, req: { headers: { authorization: `Bearer ${SECRET}`, cookie: `arbiter_token=${SECRET}` } }, config: { database: { password: SECRET } } }, 'started');
    log.warn({ headers: { authorization: `Bearer ${SECRET}` }, owner: 'ana' }, 'a request');
    const text = lines.join('');
    expect(text).not.toContain(SECRET);
    expect(text).toContain('[redacted]');
    expect(text).toContain('"owner":"ana"');
  });

  it('scrubs tokens and passwords out of URLs in every string: fields, nested ones, errors and the message', () => {
    const { log, lines } = capture();
    log.error({ url: `/api/events?types=hint&access_token=${SECRET}`, database: `postgres://ana:${SECRET}@db:5432/arbiter`, nested: { hub: `http://hub:7070/?token=${SECRET}` } }, 'failed');
    log.error({ err: new Error(`cannot connect to postgres://ana:${SECRET}@db/arbiter`) }, 'store');
    log.info(`GET /api/ws?access_token=${SECRET}`);
    const text = lines.join('');
    expect(text).not.toContain(SECRET);
    expect(text).toContain('types=hint&access_token=[redacted]');
    expect(text).toContain('postgres://ana:***@db:5432/arbiter');
    expect(text).toContain('GET /api/ws?access_token=[redacted]');
  });

  it('leaves what is not a secret as it is', () => {
    expect(redactSecrets('/api/x?ACCESS_TOKEN=a&mytoken=b&limit=5')).toBe('/api/x?ACCESS_TOKEN=[redacted]&mytoken=b&limit=5');
    expect(redactSecrets('http://hub:7070/api/nodes')).toBe('http://hub:7070/api/nodes');
    expect(redactSecrets('postgres://ana@db/arbiter')).toBe('postgres://ana@db/arbiter');
  });
});

describe('the logger on a terminal', () => {
  it('writes lines for people, still without secrets', async () => {
    const { spawnSync } = await import('node:child_process');
    // a pseudo-terminal: util-linux's script(1) gives the child a TTY as its stdout
    const code = `import { createLogger } from './server/log.ts'; createLogger('info').warn({ url: '/x?access_token=${SECRET}', owner: 'ana' }, 'hello');`;
    const r = spawnSync('script', ['-qec', `${process.execPath} --import tsx -e "${code.replace(/"/g, '\\"')}"`, '/dev/null'], { cwd: new URL('../..', import.meta.url), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/WARN.*hello/);
    expect(r.stdout).not.toMatch(/^\{/m);
    expect(r.stdout).toContain('access_token=[redacted]');
    expect(r.stdout).not.toContain(SECRET);
  });
});

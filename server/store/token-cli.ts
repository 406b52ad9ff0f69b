/**
 * `arbiter token create|list|revoke`: the named tokens in the server's store (SQLite in the data dir, or the
 * PostgreSQL of --database), written beside a running server, which reads them within seconds (auth.ts).
 * `create` prints the token alone on stdout (for `$(arbiter token create …)`), what it is on stderr.
 */
import { TokenCreateBodySchema, TokenNameSchema, type TokenView } from '../../shared/api.ts';
import { fieldProblems, problemsText } from '../errors.ts';
import { ArbiterError } from '../errors.ts';
import { openDatabase } from './db.ts';
import { openPostgres } from './postgres/pg-db.ts';
import type { Db } from './sql.ts';
import { TokenStore, viewOf } from './token-store.ts';

export interface TokenCommand {
  action: 'create' | 'list' | 'revoke';
  /** create, revoke */
  name?: string;
  /** create */
  role?: string;
  bindOwner?: boolean;
  json?: boolean;
}

export interface Io {
  out(s: string): void;
  err(s: string): void;
}

/** Runs one command against the store; returns the exit code (2: bad input, 1: refused). */
export function runTokenCommand(cmd: TokenCommand, where: { dataDir: string; database?: string }, io: Io, now = Date.now()): number {
  let db: Db | undefined;
  try {
    db = where.database ? openPostgres({ url: where.database }) : openDatabase({ dataDir: where.dataDir });
    const tokens = new TokenStore(db);
    if (cmd.action === 'create') {
      const parsed = TokenCreateBodySchema.safeParse({ name: cmd.name, role: cmd.role, bindOwner: cmd.bindOwner ?? true });
      if (!parsed.success) return fail(io, problemsText(fieldProblems(parsed.error)), 2);
      const { token, stored } = tokens.create(parsed.data.name, parsed.data.role, parsed.data.bindOwner, now);
      io.err(`token ${stored.name}: ${stored.role}${stored.bindOwner ? `, acts only for owner ${stored.name}` : ''} (shown this once; only its hash is kept)\n`);
      io.out(`${token}\n`);
      return 0;
    }
    if (cmd.action === 'revoke') {
      const name = TokenNameSchema.safeParse(cmd.name);
      if (!name.success) return fail(io, `name: ${name.error.issues[0]!.message}`, 2);
      if (tokens.revoke(name.data, now)) {
        io.err(`token ${name.data} revoked (a running server stops accepting it within 5 s)\n`);
        return 0;
      }
      return fail(io, tokens.list().some((t) => t.name === name.data) ? `the token ${name.data} was revoked already` : `no token named ${name.data}`, 1);
    }
    const list = tokens.list().map(viewOf);
    io.out(cmd.json ? `${JSON.stringify({ tokens: list }, null, 2)}\n` : listing(list));
    return 0;
  } catch (err) {
    if (err instanceof ArbiterError) return fail(io, err.message, 1);
    throw err;
  } finally {
    db?.close();
  }
}

function fail(io: Io, message: string, code: number): number {
  io.err(`arbiter token: ${message}\n`);
  return code;
}

const when = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));

function listing(list: readonly TokenView[]): string {
  if (!list.length) return 'no named tokens (arbiter token create --name <name> --role viewer|operator|admin)\n';
  const rows = [['NAME', 'ROLE', 'OWNER', 'CREATED', 'LAST USED', 'REVOKED'],
    ...list.map((t) => [t.name, t.role, t.bindOwner ? t.name : '(any)', when(t.createdAt), when(t.lastUsedAt), when(t.revokedAt)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/**
 * Named API tokens (`arbiter token create|list|revoke`, `/api/tokens`): a name, a role, whether it is bound to the
 * owner of its name, and the SHA-256 of the token — the token itself is shown once, at creation, and never stored.
 * A token is 32 random bytes, so a plain digest is enough to make a leaked table useless (a password's slow,
 * salted hash is for secrets that people choose). Revoked tokens stay listed, with when.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ArbiterError } from '../errors.ts';
import type { Role, TokenView } from '../../shared/api.ts';
import { isUniqueViolation, type Db, type SqlStatement } from './sql.ts';

/** The digest a token is stored and looked up by. */
export const tokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');

/** A new token: a prefix that says what it is (secret scanners key on such prefixes), then 32 random bytes. */
export const newToken = (): string => `arb_${randomBytes(32).toString('base64url')}`;

/** A token the store holds: its view and its hash. */
export interface StoredToken extends TokenView {
  hash: string;
}

type Row = { name: string; role: Role; hash: string; bind_owner: number; created_at: number; revoked_at: number | null; last_used_at: number | null };
const fromRow = (r: Row): StoredToken => ({
  name: r.name, role: r.role, hash: r.hash, bindOwner: r.bind_owner === 1, createdAt: r.created_at, revokedAt: r.revoked_at, lastUsedAt: r.last_used_at,
});
export const viewOf = ({ hash: _hash, ...view }: StoredToken): TokenView => view;

export class TokenStore {
  private readonly insert: SqlStatement<[string, Role, string, number, number]>;
  private readonly revokeStmt: SqlStatement<[number, string]>;
  private readonly used: SqlStatement<[number, string]>;
  private readonly all: SqlStatement<[], Row>;

  constructor(db: Db) {
    this.insert = db.prepare('INSERT INTO api_tokens (name, role, hash, bind_owner, created_at) VALUES (?, ?, ?, ?, ?)');
    this.revokeStmt = db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL');
    this.used = db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE hash = ?');
    this.all = db.prepare('SELECT * FROM api_tokens ORDER BY created_at, name');
  }

  /** A new token for `name`; 409 `token_exists` when the name is taken (revoked names stay taken: the history keeps them apart). */
  create(name: string, role: Role, bindOwner: boolean, now: number): { token: string; stored: StoredToken } {
    const token = newToken();
    const hash = tokenHash(token);
    try {
      this.insert.run(name, role, hash, bindOwner ? 1 : 0, now);
    } catch (err) {
      if (isUniqueViolation(err)) throw new ArbiterError(409, 'token_exists', `a token named ${name} exists already (revoked names stay taken)`, { name });
      throw err;
    }
    return { token, stored: { name, role, hash, bindOwner, createdAt: now, revokedAt: null, lastUsedAt: null } };
  }

  /** Revoke `name`'s token: false when there is none or it was revoked already. */
  revoke(name: string, now: number): boolean {
    return this.revokeStmt.run(now, name).changes > 0;
  }

  /** Record that a token was used (the caller limits how often). */
  touch(hash: string, now: number): void {
    this.used.run(now, hash);
  }

  list(): StoredToken[] {
    return this.all.all().map(fromRow);
  }
}

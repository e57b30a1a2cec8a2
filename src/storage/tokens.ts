import { asc, eq, or, sql } from 'drizzle-orm';
import type { Role } from '../core/access.js';
import { queryPrepared, type Db, type PreparedRunner } from './database.js';
import { apiTokens } from './schema.js';
import { isUniqueViolation } from './sqlstate.js';

export type TokenRow = typeof apiTokens.$inferSelect;

/** Inserts a token; `undefined` when its name is taken. */
export async function insertToken(
  db: Db,
  token: { name: string; role: Role; tokenHash: string; expiresAt: Date | null },
): Promise<TokenRow | undefined> {
  try {
    const [row] = await db.insert(apiTokens).values(token).returning();
    return row;
  } catch (err) {
    if (isUniqueViolation(err, 'api_tokens_name_key')) return undefined;
    throw err;
  }
}

export function listTokens(db: Db): Promise<TokenRow[]> {
  return db.select().from(apiTokens).orderBy(asc(apiTokens.createdAt), asc(apiTokens.name));
}

/** A token by its id or its name (names are unique). */
export async function findToken(db: Db, idOrName: string, isId: boolean): Promise<TokenRow | undefined> {
  const [row] = await db
    .select()
    .from(apiTokens)
    .where(isId ? or(eq(apiTokens.id, idOrName), eq(apiTokens.name, idOrName)) : eq(apiTokens.name, idOrName))
    .limit(1);
  return row;
}

/** The channel every revocation is announced on, at its commit: processes forget the token lookups they keep. */
export const TOKENS_CHANNEL = 'stepgate_tokens';

/** Revokes a token that is not revoked yet; `undefined` when it already was (or does not exist). */
export async function revokeToken(db: Db, id: string): Promise<TokenRow | undefined> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(apiTokens)
      .set({ revokedAt: sql`now()` })
      .where(sql`${apiTokens.id} = ${id} AND ${apiTokens.revokedAt} IS NULL`)
      .returning();
    if (row) await tx.execute(sql`SELECT pg_notify(${TOKENS_CHANNEL}, ${row.id}::text)`);
    return row;
  });
}

export interface TokenLookup {
  id: string;
  name: string;
  role: Role;
  expires_at: Date | string | null;
  revoked_at: Date | string | null;
  expired: boolean;
}

/** The token with this hash, with whether it has expired by the database's clock. Runs on every request: one indexed read. */
export async function tokenByHash(db: Db, tokenHash: string, prepared?: PreparedRunner): Promise<TokenLookup | undefined> {
  const [row] = await queryPrepared<TokenLookup>(
    db,
    prepared,
    sql`SELECT id, name, role, expires_at, revoked_at, (expires_at IS NOT NULL AND expires_at <= now()) AS expired
        FROM api_tokens WHERE token_hash = ${tokenHash}`,
  );
  return row;
}

/** Records that a token was used, at most once a minute per token (a write per request would cost every GET). */
export async function touchToken(db: Db, id: string): Promise<void> {
  await db.execute(sql`UPDATE api_tokens SET last_used_at = now() WHERE id = ${id} AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`);
}

/**
 * Creates the first admin token when no usable admin token exists, race-safe across processes
 * sharing one PostgreSQL: the check and the insert run under a transaction-scoped advisory
 * lock, so of several servers starting at once exactly one creates it. Returns the row it
 * created, or `undefined` when an admin token already existed.
 */
export async function bootstrapAdmin(db: Db, tokenHash: string): Promise<TokenRow | undefined> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext('stepgate:bootstrap-admin-token'))`);
    const usable = await tx.execute(
      sql`SELECT 1 FROM api_tokens WHERE role = 'admin' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) LIMIT 1`,
    );
    if ((usable as unknown as { rows: unknown[] }).rows.length > 0) return undefined;
    const names = new Set((await tx.select({ name: apiTokens.name }).from(apiTokens).where(sql`${apiTokens.name} LIKE 'admin%'`)).map((r) => r.name));
    let name = 'admin';
    for (let n = 2; names.has(name); n++) name = `admin-${n}`;
    const [row] = await tx.insert(apiTokens).values({ name, role: 'admin', tokenHash }).returning();
    return row;
  });
}

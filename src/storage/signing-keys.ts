import { sql } from 'drizzle-orm';
import type { Db } from './database.js';
import { queryRows } from './database.js';
import { isUniqueViolation } from './sqlstate.js';

/** The server's provenance signing keys (table `signing_keys`). */

export interface SigningKeyRow {
  keyid: string;
  algorithm: string;
  public_key: string;
  private_key: string;
  created_at: Date | string;
  retired_at: Date | string | null;
}

export interface NewKey {
  readonly keyid: string;
  readonly publicKey: string;
  readonly privateKey: string;
}

/**
 * The active key; when there is none, `candidate` becomes it. Race-safe: of several
 * processes starting at once, one inserts (the partial unique index admits one active key)
 * and the others find its key.
 */
export async function activeKeyOrInsert(db: Db, candidate: () => NewKey): Promise<SigningKeyRow> {
  for (;;) {
    const [active] = await queryRows<SigningKeyRow>(db, sql`SELECT * FROM signing_keys WHERE retired_at IS NULL`);
    if (active) return active;
    const key = candidate();
    const [inserted] = await queryRows<SigningKeyRow>(
      db,
      sql`INSERT INTO signing_keys (keyid, algorithm, public_key, private_key)
          VALUES (${key.keyid}, 'ed25519', ${key.publicKey}, ${key.privateKey})
          ON CONFLICT (algorithm) WHERE retired_at IS NULL DO NOTHING
          RETURNING *`,
    );
    if (inserted) return inserted;
  }
}

/**
 * Retires the active key and makes `next` the active one, in one transaction. Two rotations
 * at once: the second's retire skips the row the first retired, its insert then meets the
 * first's new key (the partial unique index) and it tries again against that key; so each
 * rotation retires exactly the key that was active when it committed.
 */
export async function rotateKey(db: Db, next: () => NewKey): Promise<{ active: SigningKeyRow; retired: SigningKeyRow[] }> {
  for (let tries = 1; ; tries++) {
    const key = next();
    try {
      return await db.transaction(async (tx) => {
        const retired = await queryRows<SigningKeyRow>(tx, sql`UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL RETURNING *`);
        const [active] = await queryRows<SigningKeyRow>(
          tx,
          sql`INSERT INTO signing_keys (keyid, algorithm, public_key, private_key)
              VALUES (${key.keyid}, 'ed25519', ${key.publicKey}, ${key.privateKey}) RETURNING *`,
        );
        return { active: active!, retired };
      });
    } catch (err) {
      if (!isUniqueViolation(err, 'signing_keys_one_active_idx') || tries >= 5) throw err;
    }
  }
}

/** Every key, active first, then the retired ones newest first. */
export function listKeys(db: Db): Promise<Array<Omit<SigningKeyRow, 'private_key'>>> {
  return queryRows(
    db,
    sql`SELECT keyid, algorithm, public_key, created_at, retired_at FROM signing_keys
        ORDER BY retired_at IS NOT NULL, retired_at DESC, created_at DESC`,
  );
}

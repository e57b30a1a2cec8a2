import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A client that runs one SQL text, as both drivers' raw clients do. */
type Query = (text: string) => Promise<{ rows: unknown[] }>;

/**
 * Runs `migrate` and answers the migrations it applied, by name (`0001_compute_substrate`),
 * in order: drizzle records each applied migration's journal time in
 * `drizzle.__drizzle_migrations.created_at`, so the journal entries whose time appears only
 * after the run are the ones this run applied. The caller holds whatever lock keeps other
 * processes from migrating meanwhile.
 */
export async function migrateReporting(query: Query, migrationsFolder: string, migrate: () => Promise<void>): Promise<string[]> {
  const before = await appliedTimes(query);
  await migrate();
  const after = await appliedTimes(query);
  const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: { when: number; tag: string }[] };
  return journal.entries.filter((entry) => after.has(entry.when) && !before.has(entry.when)).map((entry) => entry.tag);
}

async function appliedTimes(query: Query): Promise<Set<number>> {
  const { rows } = await query(`SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL AS present`);
  if (!(rows[0] as { present: boolean } | undefined)?.present) return new Set();
  const applied = await query('SELECT created_at FROM drizzle.__drizzle_migrations');
  return new Set(applied.rows.map((row) => Number((row as { created_at: string | number }).created_at)));
}

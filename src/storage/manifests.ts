import { and, asc, desc, eq, getTableColumns, sql } from 'drizzle-orm';
import type { Page, Position } from '../core/cursor.js';
import type { Manifest } from '../core/manifest/schema.js';
import type { Db } from './database.js';
import { manifests, manifestSteps } from './schema.js';
import { cursorAt, pageOf } from './keyset.js';
import { isUniqueViolation } from './sqlstate.js';

export type ManifestRow = typeof manifests.$inferSelect;
export type ManifestStepRow = typeof manifestSteps.$inferSelect;
export interface StoredManifest extends ManifestRow {
  readonly steps: ManifestStepRow[];
}

export type InsertOutcome =
  | { kind: 'created'; manifest: StoredManifest }
  | { kind: 'identical'; manifest: StoredManifest }
  | { kind: 'conflict'; existingId: string };

/**
 * Stores a validated manifest and its steps in one transaction. Manifests are immutable:
 * the same (name, version) with the same content answers the stored one; different content
 * is a conflict. Two identical concurrent posts both succeed, one of them creating.
 */
export async function insertManifest(db: Db, manifest: Manifest, contentHash: string): Promise<InsertOutcome> {
  const existing = await findByNameVersion(db, manifest.name, manifest.version);
  if (existing) return compare(db, existing, contentHash);
  try {
    const id = await db.transaction(async (tx) => {
      const [row] = await tx
        .insert(manifests)
        .values({
          name: manifest.name,
          version: manifest.version,
          description: manifest.description ?? null,
          document: manifest,
          contentHash,
        })
        .returning({ id: manifests.id });
      // All steps as ONE jsonb parameter: no manifest size can reach the driver's limit of
      // 65,535 bind parameters (one per column per row would, at ~6,500 steps).
      const rows = manifest.steps.map((step, position) => ({
        key: step.key,
        position,
        depends_on: step.depends_on ?? [],
        prompt: step.prompt ?? undefined,
        system: step.system ?? undefined,
        model: step.model ?? undefined,
        params: step.params ?? undefined,
        output: step.output ?? undefined,
        step_type: step.step_type ?? undefined,
        compute_contract: step.compute_contract ?? undefined,
        for_each: step.for_each ?? undefined,
      }));
      await tx.execute(sql`
        INSERT INTO manifest_steps (manifest_id, key, position, depends_on, prompt, system, model, params, output, step_type, compute_contract, for_each)
        SELECT ${row!.id}::uuid, s.key, s.position, COALESCE(s.depends_on, '{}'), s.prompt, s.system, s.model, s.params, s.output, s.step_type, s.compute_contract, s.for_each
        FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
          AS s(key text, position int, depends_on text[], prompt text, system text, model text, params jsonb, output jsonb, step_type text, compute_contract jsonb, for_each text)`);
      return row!.id;
    });
    return { kind: 'created', manifest: (await getManifest(db, id))! };
  } catch (err) {
    if (!isUniqueViolation(err, 'manifests_name_version_key')) throw err;
    const winner = await findByNameVersion(db, manifest.name, manifest.version);
    if (!winner) throw err;
    return compare(db, winner, contentHash);
  }
}

async function compare(db: Db, existing: ManifestRow, contentHash: string): Promise<InsertOutcome> {
  if (existing.contentHash !== contentHash) return { kind: 'conflict', existingId: existing.id };
  return { kind: 'identical', manifest: (await getManifest(db, existing.id))! };
}

async function findByNameVersion(db: Db, name: string, version: number): Promise<ManifestRow | undefined> {
  const [row] = await db
    .select()
    .from(manifests)
    .where(and(eq(manifests.name, name), eq(manifests.version, version)));
  return row;
}

export async function getManifest(db: Db, id: string): Promise<StoredManifest | undefined> {
  const [row] = await db.select().from(manifests).where(eq(manifests.id, id));
  if (!row) return undefined;
  const steps = await db
    .select()
    .from(manifestSteps)
    .where(eq(manifestSteps.manifestId, id))
    .orderBy(asc(manifestSteps.position));
  return { ...row, steps };
}

/**
 * Manifests newest first, a page at a time, by keyset (`after`) or offset, as runs are
 * (storage/runs.ts listRuns). A team stores hundreds of manifests, not millions: no index
 * beyond the primary key and (name, version) is kept for this order.
 */
export async function listManifests(
  db: Db,
  query: { limit: number; offset?: number | undefined; after?: Position | undefined; name?: string | undefined; count?: boolean | undefined },
): Promise<Page<ManifestRow>> {
  const where = query.name === undefined ? undefined : eq(manifests.name, query.name);
  const page = and(where, query.after === undefined ? undefined : sql`(${manifests.createdAt}, ${manifests.id}) < (${query.after.at}::timestamptz, ${query.after.id}::uuid)`);
  const [rows, total] = await Promise.all([
    db
      .select({ ...getTableColumns(manifests), cursorAt: cursorAt(manifests.createdAt) })
      .from(manifests)
      .where(page)
      .orderBy(desc(manifests.createdAt), desc(manifests.id))
      .limit(query.limit + 1)
      .offset(query.offset ?? 0),
    query.count ? db.$count(manifests, where) : undefined,
  ]);
  return pageOf(rows, query.limit, total, ({ cursorAt: at, ...manifest }) => [manifest, { at, id: manifest.id }]);
}

/** What a provenance statement names of a manifest. */
export async function manifestIdentity(db: Db, id: string) {
  const [row] = await db
    .select({ id: manifests.id, name: manifests.name, version: manifests.version, contentHash: manifests.contentHash })
    .from(manifests)
    .where(eq(manifests.id, id));
  return row;
}

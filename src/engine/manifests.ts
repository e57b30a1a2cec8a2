import { ManifestConflictError, ManifestInvalidError, ManifestNotFoundError } from '../core/errors.js';
import { contentHash } from '../core/manifest/content-hash.js';
import type { Manifest } from '../core/manifest/schema.js';
import { validateManifest } from '../core/manifest/validate.js';
import * as store from '../storage/manifests.js';
import type { EngineDeps } from './deps.js';
import { afterCursor, withCursor, type ListQuery } from './lists.js';

export interface CheckedManifest {
  readonly manifest: Manifest;
  readonly contentHash: string;
}

/** Validates a parsed manifest; throws ManifestInvalidError listing every problem. Stores nothing. */
export function checkManifest(deps: Pick<EngineDeps, 'providerNames' | 'limits'>, value: unknown): CheckedManifest {
  const result = validateManifest(value, { providers: deps.providerNames, limits: deps.limits });
  if (!result.ok) throw new ManifestInvalidError(result.issues);
  return { manifest: result.manifest, contentHash: contentHash(result.manifest) };
}

/** Validates and stores; `created` is false when an identical manifest was already stored. */
export async function storeManifest(deps: EngineDeps, value: unknown): Promise<{ created: boolean; manifest: store.StoredManifest }> {
  const checked = checkManifest(deps, value);
  const outcome = await store.insertManifest(deps.db, checked.manifest, checked.contentHash);
  if (outcome.kind === 'conflict') {
    throw new ManifestConflictError(checked.manifest.name, checked.manifest.version, outcome.existingId);
  }
  return { created: outcome.kind === 'created', manifest: outcome.manifest };
}

export async function showManifest(deps: EngineDeps, id: string): Promise<store.StoredManifest> {
  const manifest = isUuid(id) ? await store.getManifest(deps.db, id) : undefined;
  if (!manifest) throw new ManifestNotFoundError(id);
  return manifest;
}

/** Manifests newest first, a page at a time (engine/lists.ts). */
export async function listManifests(deps: EngineDeps, query: ListQuery & { name?: string | undefined }) {
  const filters = { name: query.name };
  return withCursor('manifests', filters, await store.listManifests(deps.db, { ...query, after: afterCursor('manifests', filters, query) }));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs; anything else names nothing (a 404, never a database error). */
export function isUuid(id: string): boolean {
  return UUID.test(id);
}

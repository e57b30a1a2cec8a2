import type { Db } from '../storage/database.js';

/** What the use cases need, wired once in the composition root (main.ts) or a test. */
export interface EngineDeps {
  readonly db: Db;
  /** Provider names a manifest's `model: "provider:model"` may use. */
  readonly providerNames: readonly string[];
}

import { sql, type SQL } from 'drizzle-orm';
import type { RunnerGuard } from '../../core/run-store.js';
import { json, secs } from './sql.js';

/**
 * create: → `running`. The run is inserted by the first statement of its runner, already
 * held by it (lease_owner, lease_expires_at), as the `held` CTE every other piece depends on.
 * Its primary key makes a second start with the same id fail (RUN_EXISTS).
 */
export function createRun(guard: Extract<RunnerGuard, { kind: 'create' }>): SQL {
  return sql`held AS (
    INSERT INTO dag_runs (id, manifest_id, status, inputs, started_at, lease_owner, lease_expires_at)
    VALUES (${guard.runId}, ${guard.manifestId}, 'running', ${json(guard.inputs)}, now(), ${guard.owner}, now() + ${secs(guard.leaseMs)})
    RETURNING id, status, attested_seq)`;
}

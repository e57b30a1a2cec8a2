import { sql, type SQL } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { describeEachDriver } from './support/databases.js';

/**
 * Every read and write of one run finds that run's rows through an index, whatever the number
 * of runs: a lookup that scans a whole table grows with the record (at 100,000 runs a run view
 * took 272 ms, when the per-run unique indexes of step runs became partial and nothing else
 * served `run_id = …`). With sequential scans disabled, the planner still picks one when no
 * index can serve the condition: so a Seq Scan in the plan means a missing index.
 */
const LOOKUPS: Record<string, SQL> = {
  "a run's step runs": sql`SELECT * FROM dag_step_runs WHERE run_id = '00000000-0000-4000-8000-000000000000'`,
  "a run's events": sql`SELECT * FROM run_events WHERE run_id = '00000000-0000-4000-8000-000000000000'`,
  "a step run's prompts": sql`SELECT * FROM prompt_artifacts WHERE step_run_id = '00000000-0000-4000-8000-000000000000'`,
  "a step run's LLM calls": sql`SELECT * FROM llm_call_artifacts WHERE step_run_id = '00000000-0000-4000-8000-000000000000'`,
  "a step run's parsed outputs": sql`SELECT * FROM parsed_output_artifacts WHERE step_run_id = '00000000-0000-4000-8000-000000000000'`,
  "a step run's attestation": sql`SELECT * FROM compute_attestations WHERE step_run_id = '00000000-0000-4000-8000-000000000000'`,
  "an attestation's artifacts": sql`SELECT * FROM compute_artifacts WHERE attestation_id = '00000000-0000-4000-8000-000000000000'`,
};

describeEachDriver('one run, found by index', (ctx) => {
  it.each(Object.keys(LOOKUPS))('%s: no table scan', async (lookup) => {
    const plan = await ctx.database.db.transaction(async (tx) => {
      await tx.execute(sql`SET LOCAL enable_seqscan = off`);
      const result = (await tx.execute(sql`EXPLAIN (FORMAT JSON) ${LOOKUPS[lookup]!}`)) as unknown as { rows: Array<{ 'QUERY PLAN': unknown }> };
      return JSON.stringify(result.rows[0]!['QUERY PLAN']);
    });
    expect(plan).toMatch(/"Node Type":\s*"(Index Scan|Index Only Scan|Bitmap Index Scan)"/);
    expect(plan).not.toMatch(/"Node Type":\s*"Seq Scan"/);
  });
});

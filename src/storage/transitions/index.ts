import type { RunStore } from '../../core/run-store.js';
import type { Db, PreparedRunner } from '../database.js';
import { attest } from './attest.js';
import { cancelRun } from './cancel.js';
import { claimResume, claimRetry, readStepRuns } from './claim.js';
import { expireOverdue } from './expire.js';
import { handBack, renewLease } from './lease.js';
import { flushRunner } from './runner-flush.js';

/**
 * Every transition of a run and its step runs (the table of moves is core/lifecycle.ts; the
 * diagram and what each guarantees, docs/state-machine.md). One verb per file, its guarded
 * SQL next to the function that runs it:
 *
 * | transition    | run                                  | step run                                   | file             |
 * |---------------|--------------------------------------|--------------------------------------------|------------------|
 * | create        | → running                            |                                            | create-run.ts    |
 * | start-step    |                                      | → RUNNING (attempt n)                      | start-step.ts    |
 * | finish-step   |                                      | RUNNING → SUCCESS, FAIL                    | finish-step.ts   |
 * | park          |                                      | → WAITING_FOR_ATTESTATION (due_at)         | park.ts          |
 * | settle        |                                      | → SUCCESS ([]), FAIL (a map step's list)   | settle.ts        |
 * | release       | running → waiting, success, error    | WAITING_FOR_ATTESTATION → CANCELLED (error) | release.ts       |
 * | attest        | waiting → error (FAIL)               | WAITING_FOR_ATTESTATION → SUCCESS, FAIL    | attest.ts        |
 * | claim-resume  | waiting → running                    |                                            | claim.ts         |
 * | take-over     | running (stalled) → running          | RUNNING → RUNNING (attempt + 1)            | claim.ts, start-step.ts |
 * | retry         | error → running                      | FAIL, CANCELLED → new row (attempt + 1)    | claim.ts, start-step.ts, park.ts |
 * | cancel        | pending, running, waiting → cancelled | WAITING_FOR_ATTESTATION, RUNNING → CANCELLED | cancel.ts     |
 * | expire        |                                      | WAITING_FOR_ATTESTATION → FAIL             | expire.ts        |
 * | renew-lease   | running, cancelled (lease extended)  |                                            | lease.ts         |
 * | hand-back     | running (lease ends now: stalled)    |                                            | lease.ts         |
 *
 * The runner's transitions (create, start-step, finish-step, park, settle, release) are pieces of
 * one statement per flush (runner-flush.ts); the others are one statement each.
 */
export function createRunStore(db: Db, prepared?: PreparedRunner): RunStore {
  return {
    flush: (guard, writes, audit) => flushRunner(db, prepared, guard, writes, audit),
    claimResume: (claim) => claimResume(db, prepared, claim),
    claimRetry: (claim) => claimRetry(db, prepared, claim),
    readStepRuns: (runId) => readStepRuns(db, prepared, runId),
    renewLease: (claim) => renewLease(db, prepared, claim),
    expireOverdue: (runId, owner) => expireOverdue(db, prepared, runId, owner),
    handBack: (runId, owner) => handBack(db, runId, owner),
    attest: (input, audit) => attest(db, prepared, input, audit),
    cancel: (runId, reason, audit) => cancelRun(db, prepared, runId, reason, audit),
  };
}

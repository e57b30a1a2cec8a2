import { resolveContractInputs } from '../core/contract-inputs.js';
import { NotAttestedError, RunNotFoundError, StepRunNotFoundError } from '../core/errors.js';
import type { ComputeContract } from '../core/manifest/schema.js';
import { signEnvelope, type DsseEnvelope, type SigningKey } from '../core/provenance/dsse.js';
import { IN_TOTO_PAYLOAD_TYPE, type Statement } from '../core/provenance/predicate.js';
import { buildStatement, canonicalJson } from '../core/provenance/statement.js';
import { manifestIdentity } from '../storage/manifests.js';
import type { EngineDeps } from './deps.js';
import { activeSigningKey } from './keys.js';
import { showRun, type RunView } from './runs.js';

/**
 * SPEC §13: every attestation as an in-toto Statement v1, rebuilt from the database on each
 * read, and signed on request as a DSSE envelope with the server's active key.
 */

/** The statement of one attested step run; 404 when it has no attestation. */
export async function stepRunProvenance(deps: EngineDeps, runId: string, stepRunId: string): Promise<Statement> {
  const view = await showRun(deps, runId);
  const stepRun = view.stepRuns.find((s) => s.id === stepRunId);
  if (!stepRun) throw new StepRunNotFoundError(runId, stepRunId);
  if (!view.attestations.has(stepRun.id)) {
    const isTask = view.plan.byKey.get(stepRun.stepKey)?.type !== 'compute';
    throw new NotAttestedError(
      runId,
      stepRunId,
      isTask
        ? `Step run ${stepRunId} (${stepRun.stepKey}) is a task step: only attested compute steps have provenance (GET /api/runs/${runId}/steps/${stepRunId} shows its evidence).`
        : `Step run ${stepRunId} (${stepRun.stepKey}) is ${stepRun.status} and has no attestation yet: provenance exists once it is attested (POST /api/runs/${runId}/steps/${stepRunId}/attest).`,
    );
  }
  const [statement] = await statementsOf(deps, view, [stepRun.id]);
  return statement!;
}

/** The statements of every attestation of a run, in the run's step order. */
export async function runProvenance(deps: EngineDeps, runId: string): Promise<Statement[]> {
  return viewProvenance(deps, await showRun(deps, runId));
}

/** The statements of every attestation of a run already read. */
export function viewProvenance(deps: EngineDeps, view: RunView): Promise<Statement[]> {
  return statementsOf(deps, view, view.stepRuns.filter((s) => view.attestations.has(s.id)).map((s) => s.id));
}

/** A DSSE envelope around the statement as canonical JSON, signed with the active key (or `key`, read once for many). */
export async function signStatements(deps: EngineDeps, statements: readonly Statement[], key?: SigningKey): Promise<DsseEnvelope[]> {
  if (statements.length === 0) return [];
  key ??= await activeSigningKey(deps);
  return statements.map((statement) => signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(canonicalJson(statement)), key));
}

async function statementsOf(deps: EngineDeps, view: RunView, stepRunIds: readonly string[]): Promise<Statement[]> {
  if (stepRunIds.length === 0) return [];
  const manifest = await manifestIdentity(deps.db, view.run.manifestId);
  if (!manifest) throw new RunNotFoundError(view.run.id); // a run's manifest cannot be deleted (FK)
  // The canonical outputs of the run's SUCCESS steps (a map step's: its items'), as templates and contract inputs see them.
  const outputs = view.state.context.steps;
  return stepRunIds.map((id) => {
    const stepRun = view.stepRuns.find((s) => s.id === id)!;
    // A step's inputs come from the run's inputs and the steps upstream of it, never from below.
    const steps = Object.fromEntries([...upstreamOf(view, stepRun.stepKey)].filter((key) => key in outputs).map((key) => [key, outputs[key]]));
    const item = stepRun.itemIndex === null ? {} : { item: stepRun.item, item_index: stepRun.itemIndex };
    const attestation = view.attestations.get(id)!;
    const contract = attestation.contractSnapshot as ComputeContract;
    return buildStatement({
      attestation: {
        id: attestation.id,
        outcome: attestation.outcome as 'SUCCESS' | 'FAIL',
        notes: attestation.notes,
        attestedBy: attestation.attestedBy,
        tokenId: attestation.tokenId,
        attestedByVerified: attestation.attestedByVerified,
        attestedAt: attestation.attestedAt,
        contractSnapshot: contract as unknown as Record<string, unknown>,
        artifacts: attestation.artifacts,
      },
      run: { id: view.run.id, inputs: view.run.inputs },
      step: { key: stepRun.stepKey, stepRunId: stepRun.id, attempt: stepRun.attempt, ...(stepRun.itemIndex === null ? {} : { itemIndex: stepRun.itemIndex, item: stepRun.item }) },
      manifest,
      inputs: resolveContractInputs(contract, { inputs: view.run.inputs, steps, ...item }),
    });
  });
}

function upstreamOf(view: RunView, key: string): Set<string> {
  const seen = new Set<string>();
  const visit = (k: string) => {
    for (const dep of view.plan.byKey.get(k)?.dependsOn ?? []) {
      if (!seen.has(dep)) {
        seen.add(dep);
        visit(dep);
      }
    }
  };
  visit(key);
  return seen;
}

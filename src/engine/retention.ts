import type { Position } from '../core/cursor.js';
import { RequestInvalidError, RunNotFoundError } from '../core/errors.js';
import type { RunEvent } from '../core/events.js';
import type { DsseEnvelope } from '../core/provenance/dsse.js';
import type { TaskEvidence } from '../core/run-reads.js';
import { FINAL_RUN_STATUSES, isFinalRunStatus, type FinalRunStatus, type PruneCriteria } from '../core/run-retention.js';
import type { EngineDeps } from './deps.js';
import { activeSigningKey } from './keys.js';
import { signStatements, viewProvenance } from './provenance.js';
import { showRun, stepOf, type RunView } from './runs.js';

/**
 * Retention, the operator's choice (docs/retention.md): export runs with their whole record,
 * then prune the final ones. stepgate itself never removes a run.
 */

export interface ExportFilter {
  readonly endedBefore?: Date | undefined;
  readonly statuses?: readonly string[] | undefined;
  readonly manifestId?: string | undefined;
}

/** One run as exported: the run (with its step runs and attestations), its task evidence by step run id, its events, its signed provenance. */
export interface RunExport {
  readonly view: RunView;
  readonly evidence: ReadonlyMap<string, TaskEvidence>;
  readonly events: readonly RunEvent[];
  readonly provenance: readonly DsseEnvelope[];
}

const EXPORT_PAGE = 100;

/**
 * Every run that matches, newest first, with its record: read a page of runs at a time (keyset,
 * so the millionth run costs what the first does), their events and task evidence in one query
 * each per page. Stops as soon as `signal` is aborted (the client went away). A run removed
 * meanwhile is skipped. Provenance is signed with the key active when the export began.
 */
export async function* exportRuns(deps: EngineDeps, filter: ExportFilter, signal?: AbortSignal): AsyncGenerator<RunExport> {
  const key = await activeSigningKey(deps);
  let after: Position | undefined;
  do {
    if (signal?.aborted) return;
    const page = await deps.reads.listRuns({ limit: EXPORT_PAGE, after, statuses: filter.statuses, endedBefore: filter.endedBefore, manifestId: filter.manifestId });
    const ids = page.items.map((run) => run.id);
    const [views, events] = await Promise.all([Promise.all(ids.map((id) => showRun(deps, id).catch(skipRemoved))), deps.reads.eventsOf(ids)]);
    const present = views.filter((view): view is RunView => view !== undefined);
    const taskStepRuns = present.flatMap((view) => view.stepRuns.filter((stepRun) => (stepOf(view.plan, stepRun)?.type ?? 'task') === 'task').map((stepRun) => stepRun.id));
    const evidence = await deps.reads.taskEvidenceOf(taskStepRuns);
    for (const view of present) {
      if (signal?.aborted) return;
      const provenance = await signStatements(deps, await viewProvenance(deps, view), key);
      const own = new Map(view.stepRuns.flatMap((stepRun) => (evidence.has(stepRun.id) ? [[stepRun.id, evidence.get(stepRun.id)!] as const] : [])));
      yield { view, evidence: own, events: events.get(view.run.id) ?? [], provenance };
    }
    after = page.next;
  } while (after !== undefined);
}

function skipRemoved(err: unknown): undefined {
  if (err instanceof RunNotFoundError) return undefined;
  throw err;
}

/** The criteria of a prune, checked: only final statuses (default: all three). */
export function pruneCriteria(request: { endedBefore: Date; statuses?: readonly string[] | undefined }): PruneCriteria {
  const statuses = request.statuses ?? FINAL_RUN_STATUSES;
  const notFinal = statuses.filter((status) => !isFinalRunStatus(status));
  if (notFinal.length > 0) {
    throw new RequestInvalidError(
      [{ path: 'status', message: `only final runs can be pruned (${FINAL_RUN_STATUSES.join(', ')}); ${notFinal.join(', ')} ${notFinal.length === 1 ? 'is' : 'are'} not final` }],
      `Prune refuses runs that are not final: ${notFinal.join(', ')}. A run that can still change (pending, running, waiting) is never removed; cancel it first if it should go.`,
    );
  }
  return { endedBefore: request.endedBefore, statuses: [...new Set(statuses)] as FinalRunStatus[] };
}

/** Removes the final runs that match (or, with dryRun, counts them); answers how many. */
export async function pruneRuns(deps: EngineDeps, criteria: PruneCriteria, options: { dryRun: boolean }): Promise<number> {
  return options.dryRun ? deps.retention.countPrunable(criteria) : deps.retention.prune(criteria);
}

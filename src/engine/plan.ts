import { Ajv, type ValidateFunction } from 'ajv';
import { asc, eq } from 'drizzle-orm';
import { topologicalOrder } from '../core/dag.js';
import type { ComputeContract, OutputSpec } from '../core/manifest/schema.js';
import { analyzeTemplate, compileTemplate, type CompiledTemplate } from '../core/template.js';
import type { Db } from '../storage/database.js';
import { manifestSteps } from '../storage/schema.js';

/**
 * What the runner needs of a manifest, computed once per manifest and process (manifests are
 * immutable): steps in deterministic topological order, compiled templates and validators.
 */
export interface PlannedStep {
  readonly manifestStepId: string;
  readonly key: string;
  readonly position: number;
  readonly type: 'task' | 'compute';
  readonly dependsOn: readonly string[];
  readonly template: CompiledTemplate | undefined;
  /** The step's system prompt template, when it has one (SPEC §16). */
  readonly system: CompiledTemplate | undefined;
  /** `provider:model` as written, or undefined for the default. */
  readonly model: string | undefined;
  readonly params: Readonly<Record<string, unknown>>;
  readonly output: OutputSpec;
  readonly validateOutput: ValidateFunction | undefined;
  readonly contract: ComputeContract | undefined;
  /** A map step's list, as the path of `for_each` (`['inputs', 'documents']`); undefined for an ordinary step. */
  readonly forEach: readonly string[] | undefined;
}

export interface Plan {
  readonly manifestId: string;
  /** In execution order: topological, ties broken by manifest order. */
  readonly steps: readonly PlannedStep[];
  readonly byKey: ReadonlyMap<string, PlannedStep>;
}

export type PlanCache = Map<string, Promise<Plan>>;

export function createPlanCache(): PlanCache {
  return new Map();
}

const ajv = new Ajv({ strict: false, allErrors: true });

/** Stored manifests were validated; a template that fails here fails its step when rendered. */
function compiled(source: string): CompiledTemplate {
  const analysis = analyzeTemplate(source);
  return compileTemplate(source, analysis.ok ? analysis.references : []);
}

export function planOf(db: Db, cache: PlanCache, manifestId: string): Promise<Plan> {
  let plan = cache.get(manifestId);
  if (!plan) {
    plan = loadPlan(db, manifestId);
    cache.set(manifestId, plan);
    plan.catch(() => cache.delete(manifestId));
  }
  return plan;
}

async function loadPlan(db: Db, manifestId: string): Promise<Plan> {
  const rows = await db.select().from(manifestSteps).where(eq(manifestSteps.manifestId, manifestId)).orderBy(asc(manifestSteps.position));
  const steps = rows.map((row): PlannedStep => {
    const output = (row.output as OutputSpec | null) ?? { format: 'text' };
    const template = row.prompt === null ? undefined : compiled(row.prompt);
    const system = row.system === null ? undefined : compiled(row.system);
    return {
      manifestStepId: row.id,
      key: row.key,
      position: row.position,
      // SPEC §1: a missing or null step_type behaves exactly as "task".
      type: row.stepType === 'compute' ? 'compute' : 'task',
      dependsOn: row.dependsOn,
      template,
      system,
      model: row.model ?? undefined,
      params: (row.params as Record<string, unknown> | null) ?? {},
      output,
      validateOutput: output.format === 'json' && output.schema ? ajv.compile(output.schema) : undefined,
      contract: (row.computeContract as ComputeContract | null) ?? undefined,
      forEach: row.forEach === null ? undefined : row.forEach.split('.'),
    };
  });
  const order = topologicalOrder(steps);
  if (!Array.isArray(order)) throw new Error(`manifest ${manifestId} has a cycle; it should never have been stored`);
  const byKey = new Map(steps.map((step) => [step.key, step]));
  return { manifestId, steps: order.map((key) => byKey.get(key)!), byKey };
}

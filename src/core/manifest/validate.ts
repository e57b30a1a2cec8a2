import { Ajv } from 'ajv';
import type { Issue } from '../errors.js';
import { describe, formatZodError } from '../issues.js';
import { topologicalOrder, upstreamQuery } from '../dag.js';
import { DEFAULT_LIMITS, inputIssues, type InputLimits } from '../limits.js';
import { analyzeTemplate } from '../template.js';
import { formatPath } from './parse.js';
import { FOR_EACH_PATTERN, ioNames, manifestSchema, type Manifest } from './schema.js';

/**
 * Validates a parsed manifest against everything SPEC §1 asks, reporting every problem at
 * once. The Zod schema checks shapes; the rules below check what a schema cannot say (a task
 * step needs a prompt, keys are unique, the DAG has no cycle, templates only look upstream).
 * They read the raw value tolerantly, so that one malformed step does not hide the others.
 */

export interface ValidateOptions {
  /** Providers a `model: "provider:model"` may name. */
  readonly providers: readonly string[];
  /** Steps, string lengths and nesting (default DEFAULT_LIMITS). */
  readonly limits?: InputLimits | undefined;
}

export type ValidationResult = { ok: true; manifest: Manifest } | { ok: false; issues: Issue[] };

/** Problems reported at most: enough to fix a manifest, bounded for a hostile one. */
const MAX_REPORTED = 200;

export function validateManifest(value: unknown, options: ValidateOptions): ValidationResult {
  // Cheap, linear refusals first: what cannot be stored, and a manifest over the step limit,
  // are refused before any other work.
  const limits = options.limits ?? DEFAULT_LIMITS;
  const unstorable = inputIssues(value, limits);
  if (unstorable.length > 0) return { ok: false, issues: unstorable };
  if (isObject(value) && Array.isArray(value.steps) && value.steps.length > limits.maxSteps) {
    return { ok: false, issues: [{ path: 'steps', message: `expected at most ${limits.maxSteps} steps (STEPGATE_MAX_STEPS), found ${value.steps.length}` }] };
  }
  const parsed = manifestSchema.safeParse(value, { reportInput: true });
  const issues = parsed.success ? [] : formatZodError(parsed.error);
  issues.push(...semanticIssues(value, options));
  const unique = dedupe(issues);
  if (unique.length > MAX_REPORTED) {
    const more = unique.length - MAX_REPORTED;
    return { ok: false, issues: [...unique.slice(0, MAX_REPORTED), { path: '', message: `… and ${more} more problem${more === 1 ? '' : 's'}` }] };
  }
  if (unique.length > 0 || !parsed.success) return { ok: false, issues: unique };
  return { ok: true, manifest: parsed.data };
}

function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const id = `${issue.path}\u0000${issue.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

// ---------------------------------------------------------------------------------------
// Rules beyond the shape

type Raw = Record<string, unknown>;

interface RawStep {
  readonly index: number;
  readonly raw: Raw;
  readonly key: string | undefined;
  readonly type: 'task' | 'compute' | undefined;
  readonly dependsOn: string[];
}

const ajv = new Ajv({ strict: false, allErrors: true });

function semanticIssues(value: unknown, options: ValidateOptions): Issue[] {
  if (!isObject(value) || !Array.isArray(value.steps)) return [];
  const steps: RawStep[] = value.steps.flatMap((raw, index) => (isObject(raw) ? [readStep(raw, index)] : []));
  const issues: Issue[] = [];
  const at = (step: RawStep, ...rest: Array<string | number>) => formatPath(['steps', step.index, ...rest]);

  const firstIndexOfKey = new Map<string, number>();
  for (const step of steps) {
    if (step.key === undefined) continue;
    const first = firstIndexOfKey.get(step.key);
    if (first === undefined) firstIndexOfKey.set(step.key, step.index);
    else issues.push({ path: at(step, 'key'), message: `duplicate key "${step.key}": steps[${first}] already uses it` });
  }
  const known = [...firstIndexOfKey.keys()];

  for (const step of steps) {
    issues.push(...stepKindIssues(step, at), ...modelIssues(step, at, options), ...outputSchemaIssues(step, at));
    const seen = new Set<string>();
    step.dependsOn.forEach((dep, j) => {
      if (dep === step.key) issues.push({ path: at(step, 'depends_on', j), message: `a step cannot depend on itself ("${dep}")` });
      else if (!firstIndexOfKey.has(dep)) issues.push({ path: at(step, 'depends_on', j), message: `unknown step "${dep}": expected one of ${list(known)}` });
      else if (seen.has(dep)) issues.push({ path: at(step, 'depends_on', j), message: `"${dep}" is listed twice` });
      seen.add(dep);
    });
  }

  const nodes = uniqueNodes(steps);
  const order = topologicalOrder(nodes);
  if (!Array.isArray(order) && order.cycle.length > 0) {
    const start = steps.find((step) => step.key === order.cycle[0])!;
    issues.push({ path: at(start, 'depends_on'), message: `the steps form a cycle: ${order.cycle.join(' → ')}; a manifest must be a DAG` });
  }

  const byKey = new Map(steps.filter((s) => s.key !== undefined && firstIndexOfKey.get(s.key) === s.index).map((s) => [s.key!, s]));
  // Every reference (a contract input's `from`, a template's `{{steps.X…}}`) is collected
  // first, so that the upstream question is asked of the referenced steps only.
  const references: Array<{ step: RawStep; parts: readonly string[]; report: (message: string) => void }> = [];
  for (const step of steps) {
    // A contract input may say where its value comes from (`from: steps.A.output`), for the inbox.
    const contract = step.raw.compute_contract;
    if (step.key !== undefined && isObject(contract) && Array.isArray(contract.inputs)) {
      contract.inputs.forEach((input, j) => {
        if (!isObject(input) || input.from === undefined) return;
        const path = at(step, 'compute_contract', 'inputs', j, 'from');
        if (typeof input.from !== 'string' || !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(input.from)) {
          issues.push({ path, message: `expected a reference like "steps.A.output" or "inputs.region", found ${describe(input.from)}` });
          return;
        }
        references.push({ step, parts: input.from.split('.'), report: (message) => issues.push({ path, message }) });
      });
    }
  }
  for (const step of steps) {
    if (step.key === undefined) continue;
    // The system prompt and a contract's instructions are templates like the prompt: the same subset, the same references.
    const contract = step.raw.compute_contract;
    const templates: Array<[unknown, Array<string | number>]> = [
      [step.raw.prompt, ['prompt']],
      [step.raw.system, ['system']],
      [isObject(contract) ? contract.instructions : undefined, ['compute_contract', 'instructions']],
    ];
    for (const [source, where] of templates) {
      if (typeof source !== 'string' || source === '') continue;
      const analysis = analyzeTemplate(source);
      if (!analysis.ok) {
        issues.push({ path: at(step, ...where), message: analysis.message });
        continue;
      }
      for (const ref of analysis.references) {
        references.push({ step, parts: ref.parts, report: (message) => issues.push({ path: at(step, ...where), message: `{{${ref.original}}}: ${message}` }) });
      }
    }
  }
  const forEach = steps.flatMap((step) => (step.key !== undefined && typeof step.raw.for_each === 'string' && FOR_EACH_PATTERN.test(step.raw.for_each) ? [{ step, parts: step.raw.for_each.split('.') }] : []));
  const targets = new Set([...references, ...forEach].flatMap((ref) => (ref.parts[0] === 'steps' && ref.parts[1] !== undefined ? [ref.parts[1]] : [])));
  const isUpstream = upstreamQuery(nodes, targets);
  for (const ref of references) {
    const message = referenceProblem(ref.parts, ref.step, isUpstream, byKey);
    if (message) ref.report(message);
  }
  for (const { step, parts } of forEach) {
    const message = forEachProblem(parts, step.key!, isUpstream, byKey);
    if (message) issues.push({ path: at(step, 'for_each'), message });
  }
  return issues;
}

/**
 * What is wrong with a map step's `for_each` (SPEC §17), if anything: it names the run's
 * inputs, or the JSON output of an upstream task step.
 */
function forEachProblem(
  parts: readonly string[],
  key: string,
  isUpstream: (target: string, key: string) => boolean | undefined,
  byKey: Map<string, RawStep>,
): string | undefined {
  if (parts[0] !== 'steps') return undefined;
  const target = parts[1]!;
  const source = byKey.get(target);
  if (!source) return `unknown step "${target}"`;
  if (target === key) return 'a step cannot map over its own output';
  if (isUpstream(target, key) === false) return `step "${target}" is not upstream of "${key}": add it to depends_on (directly or through a step it feeds)`;
  if (source.type !== 'task') return `step "${target}" is a compute step: a map step goes over inputs.<path> or the JSON output of a task step`;
  const output = source.raw.output;
  if (!isObject(output) || output.format !== 'json') return `step "${target}" has text output: a map step goes over JSON output (set output.format: json on "${target}")`;
  return undefined;
}

function readStep(raw: Raw, index: number): RawStep {
  const type = raw.step_type === 'compute' ? 'compute' : raw.step_type == null || raw.step_type === 'task' ? 'task' : undefined;
  const dependsOn = Array.isArray(raw.depends_on) ? raw.depends_on.filter((d): d is string => typeof d === 'string') : [];
  return { index, raw, key: typeof raw.key === 'string' ? raw.key : undefined, type, dependsOn };
}

function stepKindIssues(step: RawStep, at: (step: RawStep, ...rest: Array<string | number>) => string): Issue[] {
  const { raw } = step;
  const issues: Issue[] = [];
  if (step.type === 'task') {
    if (raw.prompt === undefined || raw.prompt === null) {
      issues.push({ path: at(step, 'prompt'), message: 'a task step needs a prompt, found none (for work done outside stepgate, set step_type: compute)' });
    }
    if (raw.compute_contract !== undefined) {
      issues.push({ path: at(step, 'compute_contract'), message: 'a task step carries no compute_contract: set step_type: compute, or remove compute_contract' });
    }
  } else if (step.type === 'compute') {
    if (raw.compute_contract === undefined || raw.compute_contract === null) {
      issues.push({
        path: at(step, 'compute_contract'),
        message: 'a compute step needs a compute_contract with executor, inputs, outputs and verification: "operator_attest", found none',
      });
    }
    for (const key of ['prompt', 'system', 'model', 'params', 'output'] as const) {
      if (raw[key] !== undefined) {
        issues.push({ path: at(step, key), message: `a compute step calls no LLM, so it takes no ${key}: remove it, or make this a task step` });
      }
    }
  }
  return issues;
}

function modelIssues(step: RawStep, at: (step: RawStep, ...rest: Array<string | number>) => string, options: ValidateOptions): Issue[] {
  const model = step.raw.model;
  if (typeof model !== 'string' || !model.includes(':')) return [];
  const provider = model.slice(0, model.indexOf(':'));
  if (options.providers.includes(provider)) return [];
  const named = step.key === undefined ? `steps[${step.index}]` : `step "${step.key}"`;
  return [{ path: at(step, 'model'), message: `${named} names the unknown provider "${provider}": expected one of ${list(options.providers)}` }];
}

function outputSchemaIssues(step: RawStep, at: (step: RawStep, ...rest: Array<string | number>) => string): Issue[] {
  const output = step.raw.output;
  if (!isObject(output) || !isObject(output.schema)) return [];
  if (output.format !== 'json') {
    return [{ path: at(step, 'output', 'schema'), message: `a schema applies to JSON output only: set output.format to "json", found ${describe(output.format)}` }];
  }
  try {
    ajv.compile(output.schema);
    return [];
  } catch (err) {
    return [{ path: at(step, 'output', 'schema'), message: `not a valid JSON Schema: ${err instanceof Error ? err.message : String(err)}` }];
  }
}

const COMPUTE_FIELDS = ['outcome', 'notes', 'artifacts'];
const ARTIFACT_FIELDS = ['uri', 'sha256', 'bytes'];

/** What is wrong with one `{{...}}` reference in a template of `step`, if anything. */
function referenceProblem(
  parts: readonly string[],
  step: RawStep,
  isUpstream: (target: string, key: string) => boolean | undefined,
  byKey: Map<string, RawStep>,
): string | undefined {
  const [head, target, field, name, leaf] = parts;
  const key = step.key!;
  if (head === 'inputs') return undefined;
  if (head === 'item' || head === 'item_index') {
    if (step.raw.for_each === undefined) return `only a map step's templates see ${head}: give this step a for_each`;
    return head === 'item_index' && parts.length > 1 ? 'item_index is a number: it has no fields' : undefined;
  }
  if (head !== 'steps') return `templates see inputs.<name> and steps.<upstream step>.…${step.raw.for_each === undefined ? '' : ', item and item_index'}, found "${head}"`;
  if (target === undefined) return 'name a step: steps.<key>.…';
  const source = byKey.get(target);
  if (!source) return `unknown step "${target}"`;
  if (target === key) return 'a step cannot use its own output';
  // On a cycle there is no upstream to speak of: the cycle is reported instead.
  if (isUpstream(target, key) === false) return `step "${target}" is not upstream of "${key}": add it to depends_on (directly or through a step it feeds)`;
  if (field === undefined) return undefined;
  if (source.type === 'task') {
    return field === 'output' ? undefined : `a task step's canonical output is steps.${target}.output, found "${field}"`;
  }
  if (source.type !== 'compute') return undefined;
  // A compute map step offers each item's outcome, notes and artifacts: steps.X.items.<i>.…
  if (source.raw.for_each !== undefined) return field === 'items' ? undefined : `a compute map step offers steps.${target}.items (each item's outcome, notes and artifacts), found "${field}"`;
  if (!COMPUTE_FIELDS.includes(field)) return `a compute step offers ${COMPUTE_FIELDS.map((f) => `steps.${target}.${f}`).join(', ')}, found "${field}"`;
  if (field !== 'artifacts' || name === undefined) return undefined;
  const contract = source.raw.compute_contract;
  const outputs = isObject(contract) && Array.isArray(contract.outputs) ? safeIoNames(contract.outputs) : [];
  if (!outputs.includes(name)) return `"${name}" is not an output of step "${target}": expected one of ${list(outputs)}`;
  if (leaf !== undefined && !ARTIFACT_FIELDS.includes(leaf)) return `an artifact offers ${ARTIFACT_FIELDS.join(', ')}, found "${leaf}"`;
  return undefined;
}

function safeIoNames(items: unknown[]): string[] {
  const valid = items.filter((item): item is string | { name: string } => typeof item === 'string' || (isObject(item) && typeof item.name === 'string'));
  return ioNames(valid);
}

function uniqueNodes(steps: RawStep[]) {
  const seen = new Set<string>();
  return steps.flatMap((step) => {
    if (step.key === undefined || seen.has(step.key)) return [];
    seen.add(step.key);
    return [{ key: step.key, dependsOn: step.dependsOn }];
  });
}

function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** At most ten, so that messages stay short however large the manifest. */
function list(items: readonly string[]): string {
  if (items.length === 0) return '(none)';
  const shown = items.slice(0, 10).map((item) => `"${item}"`).join(', ');
  return items.length > 10 ? `${shown} and ${items.length - 10} more` : shown;
}

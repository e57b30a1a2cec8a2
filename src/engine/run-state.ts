import type { StepRunStatus } from '../core/lifecycle.js';
import { expandForEach, unitName, type Expansion } from '../core/map-items.js';
import type { RunnerWrite } from '../core/run-store.js';
import type { Plan, PlannedStep } from './plan.js';
import type { TemplateContext, UnitState } from './runner-types.js';

/** What is known of one step: its own latest step run, and each item's (a map step). */
export interface Slots {
  own: UnitState | undefined;
  readonly items: Map<number, UnitState>;
}

/** What a map step with nothing to run or attest settles as: an empty list, or a list it cannot run over. */
export type Settlement = Extract<RunnerWrite, { kind: 'settle' }>['outcome'];

/** One thing to run, park or settle: an ordinary step, one item of a map step, or a map step with nothing to run. */
export type Unit =
  | { readonly itemIndex: number | null; readonly item: unknown; readonly settle?: undefined }
  | { readonly itemIndex: null; readonly item: null; readonly settle: Settlement };

const ORDINARY: readonly Unit[] = [{ itemIndex: null, item: null }];

/** Where a map step's items stand: `total` is null until its list is known (its dependencies succeeded). */
export interface ItemProgress {
  readonly total: number | null;
  readonly done: number;
  readonly failed: number;
  readonly waiting: number;
  readonly running: number;
  readonly cancelled: number;
}

/**
 * A run's steps as its step runs say (the latest attempt of each step, and of each item of a
 * map step), and what follows from them: each step's status, the canonical outputs templates
 * see (`steps.X…`), a map step's list. The runner decides on it; reads (the run view, the
 * plan, the inbox) show it — one reading of the rows for both (SPEC §3, §17).
 *
 * An ordinary step is a map of one: its unit is the step itself. A map step is SUCCESS when
 * every item is, FAIL when one failed, waiting or running while one is. A unit being retried
 * (its failed attempt named in `retrying`) counts as not started.
 */
export class RunState {
  readonly steps = new Map<string, Slots>();
  private readonly expansions = new Map<string, Expansion>();
  readonly context: TemplateContext;

  constructor(
    private readonly plan: Plan,
    inputs: unknown,
    private readonly maxItems: number,
    private readonly retrying: ReadonlyMap<string, number> = new Map(),
  ) {
    this.context = { inputs, steps: {} };
  }

  /** A state from step runs (every attempt, any order): the latest of each unit, and the outputs. */
  static of(plan: Plan, inputs: unknown, maxItems: number, rows: Iterable<UnitState & { readonly stepKey: string }>, retrying?: ReadonlyMap<string, number>): RunState {
    const state = new RunState(plan, inputs, maxItems, retrying);
    for (const row of rows) state.offer(row.stepKey, row);
    state.settleOutputs();
    return state;
  }

  /** Keeps `unit` if it is the latest attempt known of its unit. */
  offer(stepKey: string, unit: UnitState): void {
    const known = this.unit(stepKey, unit.itemIndex);
    if (!known || unit.attempt >= known.attempt) this.set(stepKey, unit);
  }

  set(stepKey: string, unit: UnitState): void {
    let slots = this.steps.get(stepKey);
    if (!slots) this.steps.set(stepKey, (slots = { own: undefined, items: new Map() }));
    if (unit.itemIndex === null) slots.own = unit;
    else slots.items.set(unit.itemIndex, unit);
  }

  unit(stepKey: string, itemIndex: number | null): UnitState | undefined {
    const slots = this.steps.get(stepKey);
    return itemIndex === null ? slots?.own : slots?.items.get(itemIndex);
  }

  *units(): Generator<UnitState> {
    for (const slots of this.steps.values()) {
      if (slots.own) yield slots.own;
      yield* slots.items.values();
    }
  }

  /** Computes the canonical outputs of every step that succeeded, in plan order (a map step's list may read the ones before it). */
  settleOutputs(): void {
    for (const key of Object.keys(this.context.steps)) delete this.context.steps[key];
    this.expansions.clear();
    for (const step of this.plan.steps) this.noteSuccess(step);
  }

  /** After a unit of `step` succeeded: once the whole step has, downstream templates see its output. */
  noteSuccess(step: PlannedStep): void {
    if (this.statusOf(step) === 'SUCCESS') this.context.steps[step.key] = this.canonical(step);
  }

  dependenciesSucceeded(step: PlannedStep): boolean {
    return step.dependsOn.every((dep) => this.statusOf(this.plan.byKey.get(dep)!) === 'SUCCESS');
  }

  /** The units of a step whose dependencies succeeded: itself, each item of its list, or the settling of a list with none. */
  unitsOf(step: PlannedStep): readonly Unit[] {
    if (!step.forEach) return ORDINARY;
    const expansion = this.expand(step);
    if (!expansion.ok) return [{ itemIndex: null, item: null, settle: { status: 'FAIL', error: { message: expansion.message } } }];
    if (expansion.items.length === 0) return [{ itemIndex: null, item: null, settle: { status: 'SUCCESS', output: [] } }];
    return expansion.items.map((item, itemIndex) => ({ itemIndex, item }));
  }

  /** A map step's list, read once its dependencies succeeded (the values it reads are final then); undefined before. */
  expansion(step: PlannedStep): Expansion | undefined {
    return step.forEach && this.dependenciesSucceeded(step) ? this.expand(step) : undefined;
  }

  private expand(step: PlannedStep): Expansion {
    let expansion = this.expansions.get(step.key);
    if (!expansion) {
      expansion = expandForEach(this.context, step.forEach!, this.maxItems);
      this.expansions.set(step.key, expansion);
    }
    return expansion;
  }

  private current(name: string, unit: UnitState | undefined): StepRunStatus | undefined {
    return unit && this.retrying.get(name) !== unit.attempt ? unit.status : undefined;
  }

  /**
   * A step's status over its units: an ordinary step's is its step run's; a map step is
   * SUCCESS when every item is, FAIL when one failed, waiting or running while one is;
   * undefined while it has not started (or is being retried).
   */
  statusOf(step: PlannedStep): StepRunStatus | undefined {
    const slots = this.steps.get(step.key);
    if (!slots) return undefined;
    if (!step.forEach || slots.items.size === 0) return this.current(step.key, slots.own);
    const expansion = this.expand(step);
    const total = expansion.ok ? expansion.items.length : slots.items.size;
    const seen = new Set<StepRunStatus | undefined>();
    let succeeded = 0;
    for (let i = 0; i < total; i++) {
      const status = this.current(unitName(step.key, i), slots.items.get(i));
      if (status === 'FAIL') return 'FAIL';
      if (status === 'SUCCESS') succeeded++;
      seen.add(status);
    }
    if (succeeded === total) return 'SUCCESS';
    for (const status of ['WAITING_FOR_ATTESTATION', 'RUNNING', 'CANCELLED'] as const) if (seen.has(status)) return status;
    return undefined;
  }

  /** The failed unit of a step that failed: the step itself, or its first failed item. */
  failedUnit(step: PlannedStep): UnitState | undefined {
    const slots = this.steps.get(step.key);
    if (!slots) return undefined;
    const items = [...slots.items.values()].sort((a, b) => a.itemIndex! - b.itemIndex!);
    return [slots.own, ...items].find((unit) => unit && this.current(unitName(step.key, unit.itemIndex), unit) === 'FAIL');
  }

  /** Where a map step's items stand (the latest attempt of each). */
  progress(step: PlannedStep): ItemProgress {
    const slots = this.steps.get(step.key);
    const expansion = this.expansion(step);
    const total = expansion === undefined ? null : expansion.ok ? expansion.items.length : 0;
    const count = (status: StepRunStatus) => [...(slots?.items.values() ?? [])].filter((unit) => unit.status === status).length;
    return { total, done: count('SUCCESS'), failed: count('FAIL'), waiting: count('WAITING_FOR_ATTESTATION'), running: count('RUNNING'), cancelled: count('CANCELLED') };
  }

  /** What downstream templates see of a step that succeeded (SPEC §3, §17). */
  private canonical(step: PlannedStep): unknown {
    const slots = this.steps.get(step.key)!;
    if (!step.forEach) return step.type === 'compute' ? slots.own!.output : { output: slots.own!.output };
    const outputs = slots.items.size === 0 ? [] : Array.from({ length: slots.items.size }, (_, i) => slots.items.get(i)?.output ?? null);
    return step.type === 'compute' ? { items: outputs } : { output: outputs };
  }
}

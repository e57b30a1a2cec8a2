import { describe } from './issues.js';
import { lookup } from './template.js';

/**
 * A map step's list (SPEC §17): what its `for_each` finds in the run's inputs or an upstream
 * step's JSON output, or why it is not a list of items the step can run over.
 */
export type Expansion = { readonly ok: true; readonly items: readonly unknown[] } | { readonly ok: false; readonly message: string };

export function expandForEach(context: Record<string, unknown>, forEach: readonly string[], maxItems: number): Expansion {
  const path = forEach.join('.');
  const value = lookup(context, forEach);
  if (value === undefined) return { ok: false, message: `for_each: ${path} has no value` };
  if (!Array.isArray(value)) return { ok: false, message: `for_each: ${path} is not a list (a JSON array), found ${describe(value)}` };
  if (value.length > maxItems) {
    return { ok: false, message: `for_each: ${path} has ${value.length} items, more than STEPGATE_MAX_ITEMS (${maxItems}) allows` };
  }
  return { ok: true, items: value };
}

/** How a step run of a map step is named where one name is needed: `B[3]`; an ordinary step is its key. */
export function unitName(stepKey: string, itemIndex: number | null): string {
  return itemIndex === null ? stepKey : `${stepKey}[${itemIndex}]`;
}

import type { ComputeContract } from './manifest/schema.js';
import { lookup } from './template.js';

/**
 * The values of a compute contract's declared inputs. An input's value is found by its
 * `from` reference when it has one (`{ name: assumptions, from: steps.A.output }`), else by
 * its name among the run's inputs or the upstream step keys; otherwise it is undefined.
 *
 * `steps` holds the canonical outputs of the run's SUCCESS steps as templates see them
 * (`{ output }` for a task step, `{ outcome, notes, artifacts }` for a compute step).
 */
export function resolveContractInputs(
  contract: ComputeContract,
  context: { readonly inputs: unknown; readonly steps: Readonly<Record<string, unknown>> },
): Array<{ name: string; from: string | null; value: unknown }> {
  return contract.inputs.map((input) => {
    const name = typeof input === 'string' ? input : input.name;
    const from = typeof input === 'object' && typeof input.from === 'string' ? input.from : undefined;
    const value = from ? lookup(context, from.split('.')) : (lookup(context, ['inputs', name]) ?? context.steps[name]);
    return { name, from: from ?? null, value };
  });
}

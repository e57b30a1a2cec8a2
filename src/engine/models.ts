import { ModelUnknownError, type Issue } from '../core/errors.js';
import { splitModel } from '../core/llm.js';
import type { EngineDeps } from './deps.js';
import type { Plan } from './plan.js';

/** How many of a provider's models an error names, so that a long list stays readable. */
const MODELS_SHOWN = 5;

/**
 * Before a run starts: every task step's model must be one its provider serves, when the
 * provider can list its models (`GET /models`, cached per process). A provider that cannot
 * list them, or one the run does not use, is not asked.
 */
export async function checkModels(deps: EngineDeps, plan: Plan): Promise<void> {
  const wanted = new Map<string, { stepKey: string; model: string }[]>();
  for (const step of plan.steps) {
    if (step.type !== 'task') continue;
    const model = step.model ?? deps.defaultModel;
    const uses = wanted.get(model) ?? [];
    uses.push({ stepKey: step.key, model });
    wanted.set(model, uses);
  }
  const issues: Issue[] = [];
  for (const [model, uses] of wanted) {
    const { provider: providerName, model: modelName } = splitModel(model);
    const known = await deps.providers.get(providerName)?.knownModels?.();
    if (!known || known.includes(modelName)) continue;
    const some = known.slice(0, MODELS_SHOWN).map((name) => `"${name}"`).join(', ');
    const more = known.length > MODELS_SHOWN ? ` and ${known.length - MODELS_SHOWN} more` : '';
    for (const use of uses) {
      issues.push({
        path: `steps.${use.stepKey}.model`,
        message: `step "${use.stepKey}" uses model "${use.model}", which ${providerName} does not serve (it serves ${known.length === 0 ? 'no models' : `${some}${more}`})`,
      });
    }
  }
  if (issues.length > 0) throw new ModelUnknownError(issues);
}

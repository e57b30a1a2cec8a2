import type { LlmProvider } from '../../core/llm.js';
import type { Metrics } from '../../core/metrics.js';

/**
 * Wraps every provider so that each call is counted, timed and its tokens added, by provider
 * and model: wired once at composition, the engine does not know it is measured.
 */
export function meteredProviders(providers: ReadonlyMap<string, LlmProvider>, metrics: Metrics): ReadonlyMap<string, LlmProvider> {
  return new Map([...providers].map(([name, provider]) => [name, metered(provider, metrics)]));
}

function metered(provider: LlmProvider, metrics: Metrics): LlmProvider {
  return {
    name: provider.name,
    maxConcurrency: provider.maxConcurrency,
    info: provider.info,
    // The model lists pass through unmetered (they are no LLM call).
    ...(provider.knownModels ? { knownModels: () => provider.knownModels!() } : {}),
    ...(provider.listModels ? { listModels: () => provider.listModels!() } : {}),
    async complete(request, options) {
      const began = performance.now();
      const seconds = () => (performance.now() - began) / 1000;
      try {
        const reply = await provider.complete(request, options);
        const usage = reply.usage;
        metrics.llmCall({ provider: provider.name, model: request.model, outcome: 'success', seconds: seconds(), promptTokens: usage?.prompt_tokens ?? null, completionTokens: usage?.completion_tokens ?? null });
        return reply;
      } catch (err) {
        metrics.llmCall({ provider: provider.name, model: request.model, outcome: 'error', seconds: seconds(), promptTokens: null, completionTokens: null });
        throw err;
      }
    },
  };
}

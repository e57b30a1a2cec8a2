import type { LlmProvider } from '../../core/llm.js';
import { offlineProvider } from './offline.js';
import { openAiProvider, type OpenAiOptions } from './openai.js';

/** Every provider, by the name a manifest's `model: "provider:model"` uses. */
export function createProviders(options: { openai: OpenAiOptions }): ReadonlyMap<string, LlmProvider> {
  const providers = [offlineProvider(), openAiProvider(options.openai)];
  return new Map(providers.map((provider) => [provider.name, provider]));
}

import type { LlmProvider } from '../../core/llm.js';
import type { ProviderSettings } from '../../core/providers-file.js';
import { anthropicProvider } from './anthropic.js';
import { offlineProvider } from './offline.js';
import { openAiProvider } from './openai.js';
import { withoutKey } from './redacted.js';

/**
 * Every provider, by the name a manifest's `model: "provider:model"` uses: one adapter per
 * kind, built from the configuration (config.ts: the built-in ones, then the providers file).
 * Each provider's key is scrubbed from whatever its server sends back (redacted.ts).
 * `backoffMs` shortens the first wait between tries (tests).
 */
export function createProviders(settings: readonly ProviderSettings[], tuning: { backoffMs?: number } = {}): ReadonlyMap<string, LlmProvider> {
  return new Map(settings.map((provider) => [provider.name, withoutKey(adapterFor(provider, tuning), provider.apiKey)]));
}

function adapterFor(settings: ProviderSettings, tuning: { backoffMs?: number }): LlmProvider {
  switch (settings.kind) {
    case 'offline':
      return offlineProvider();
    case 'openai':
    case 'anthropic': {
      const options = {
        name: settings.name,
        baseUrl: settings.baseUrl!,
        apiKey: settings.apiKey,
        apiKeyEnv: settings.apiKeyEnv,
        timeoutMs: settings.timeoutMs,
        maxTries: settings.maxTries,
        maxConcurrency: settings.maxConcurrency,
        ...tuning,
      };
      return settings.kind === 'openai' ? openAiProvider(options) : anthropicProvider(options);
    }
  }
}

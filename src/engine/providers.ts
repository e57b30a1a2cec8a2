import { DEFAULT_PROVIDER_CONCURRENCY, type ProviderInfo } from '../core/llm.js';
import type { EngineDeps } from './deps.js';

/** One provider as an operator sees it (GET /api/providers, `stepgate providers`): never its key. */
export interface ProviderView {
  readonly name: string;
  /** null for a provider that does not describe itself (a test double). */
  readonly kind: ProviderInfo['kind'] | null;
  readonly baseUrl: string | null;
  readonly apiKeyEnv: string | null;
  readonly keySet: boolean;
  readonly maxConcurrency: number;
  /** The models it serves, when it can list them (asked at most once a minute, for 5 s at most; not asked without its key); else null. */
  readonly models: readonly string[] | null;
}

/** Every provider a manifest may name, in the configuration's order, with its models when listable. */
export async function listProviders(deps: Pick<EngineDeps, 'providers'>): Promise<ProviderView[]> {
  return Promise.all(
    [...deps.providers].map(async ([name, provider]) => ({
      name,
      kind: provider.info?.kind ?? null,
      baseUrl: provider.info?.baseUrl ?? null,
      apiKeyEnv: provider.info?.apiKeyEnv ?? null,
      keySet: provider.info?.keySet ?? false,
      maxConcurrency: provider.maxConcurrency ?? DEFAULT_PROVIDER_CONCURRENCY,
      // A provider waiting for a key it does not have is not asked (the built-in ones, unset,
      // would otherwise call the public APIs for a 401 on every listing).
      models: (provider.info?.apiKeyEnv && !provider.info.keySet ? undefined : await provider.listModels?.().catch(() => undefined)) ?? null,
    })),
  );
}

/** The providers a manifest's `model: "provider:model"` can name (SPEC §8). */
export const PROVIDER_NAMES = ['offline', 'openai'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

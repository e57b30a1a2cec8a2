import { describe, expect, it } from 'vitest';
import { LlmCallError } from '../src/core/llm.js';
import { offlineProvider } from '../src/providers/llm/offline.js';
import { createProviders } from '../src/providers/llm/registry.js';
import { builtInTestProviders } from './support/app.js';
import { BUILT_IN_PROVIDERS as PROVIDER_NAMES } from '../src/core/providers-file.js';

const ask = (content: string, output: { format: 'text' | 'json'; schema?: Record<string, unknown> }, model = 'echo') =>
  offlineProvider().complete({ stepKey: 'A', model, messages: [{ role: 'user', content }], params: {}, output });

describe('the offline provider', () => {
  it('echoes the prompt for text output, the same way every time', async () => {
    const first = await ask('Name three risks.', { format: 'text' });
    const second = await ask('Name three risks.', { format: 'text' });
    expect(first.text).toBe('[offline:echo] Name three risks.');
    expect(second).toEqual(first);
    expect(first.usage).toEqual({ prompt_tokens: 5, completion_tokens: 8, total_tokens: 13 });
  });

  it('answers json output with a value that fits the schema, or the prompt without one', async () => {
    const schema = {
      type: 'object',
      properties: { kind: { enum: ['a', 'b'] }, n: { type: 'integer', minimum: 2 }, tags: { type: 'array', items: { type: 'string' } }, ok: { type: 'boolean' } },
    };
    expect(JSON.parse((await ask('x', { format: 'json', schema })).text)).toEqual({ kind: 'a', n: 2, tags: ['offline'], ok: true });
    expect(JSON.parse((await ask('the prompt', { format: 'json' })).text)).toEqual({ prompt: 'the prompt' });
  });

  it('fails every call of offline:fail', async () => {
    await expect(ask('x', { format: 'text' }, 'fail')).rejects.toBeInstanceOf(LlmCallError);
  });

  it('is registered with openai and anthropic under the names manifests may use', () => {
    const providers = createProviders(builtInTestProviders());
    expect([...providers.keys()]).toEqual([...PROVIDER_NAMES]);
    expect([...providers.values()].map((provider) => provider.info?.kind)).toEqual(['offline', 'openai', 'anthropic']);
  });
});

import { describe, expect, it } from 'vitest';
import { signInWithoutToken } from './support/browser.js';
import { useConsoleServer } from './support/console-server.js';
import { api } from './support/server-process.js';

/** SPEC §16 in the console: a run page shows the run's token usage, and a step's evidence its system prompt. */
describe('the console shows usage and system prompts', { timeout: 90_000 }, () => {
  const suite = useConsoleServer('stepgate-console-usage-', { STEPGATE_AUTH: 'off' });

  it("lists the run's tokens by provider and model, and a step's rendered system prompt", async () => {
    const stored = await api(suite.server.baseUrl, 'POST', '/api/manifests', {
      name: 'console-usage',
      steps: [
        { key: 'A', system: 'You are the analyst for {{inputs.region}}.', prompt: 'List the assumptions.' },
        { key: 'B', depends_on: ['A'], model: 'offline:other', prompt: 'Summarize {{steps.A.output}}' },
      ],
    });
    const run = await api(suite.server.baseUrl, 'POST', '/api/runs', { manifest_id: stored.body.id, inputs: { region: 'EMEA' } });
    expect(run.body.status).toBe('success');
    const usage = run.body.usage as { prompt_tokens: number; completion_tokens: number; by_model: Array<{ prompt_tokens: number; completion_tokens: number }> };

    const page = await suite.browser.newPage();
    await signInWithoutToken(page, suite.server.baseUrl, 'ana');
    await page.goto(`${suite.server.baseUrl}/runs/${run.body.id}?step=A`);
    const section = page.getByRole('region', { name: 'Token usage' });
    await section.waitFor();
    expect(await section.textContent()).toContain(`${usage.prompt_tokens} tokens in → ${usage.completion_tokens} out, over 2 LLM calls.`);
    const rows = section.getByRole('table', { name: 'Tokens by provider and model' }).getByRole('row');
    expect(await rows.allTextContents()).toEqual([
      'Provider:modelCallsTokens inTokens out',
      `offline:echo1${usage.by_model[0]!.prompt_tokens}${usage.by_model[0]!.completion_tokens}`,
      `offline:other1${usage.by_model[1]!.prompt_tokens}${usage.by_model[1]!.completion_tokens}`,
    ]);
    const system = page.getByLabel('System prompt');
    await system.waitFor();
    expect(await system.textContent()).toBe('You are the analyst for EMEA.');
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyOf, startAnthropicMessagesServer, type AnthropicMessagesServer } from './support/anthropic-messages-server.js';
import { startChatCompletionsServer, type ChatCompletionsServer } from './support/chat-completions-server.js';
import { runCli } from './support/cli.js';
import { migratedDataDir } from './support/data-dir.js';
import { startServer, type ServerProcess } from './support/server-process.js';

/**
 * SPEC §16, done when: one manifest runs steps on Anthropic, on two OpenAI-compatible
 * endpoints and on the offline provider in one run, each step reaching the endpoint its
 * provider names with that provider's own key, with system prompts and the run's usage —
 * through a real server configured by a providers file, and the CLI.
 */
describe('one run on Anthropic, two OpenAI-compatible endpoints and offline', { timeout: 300_000 }, () => {
  const keys = { LOCAL_LLM_KEY: 'local-key-7c1e', ROUTER_KEY: 'router-key-92ab', CLAUDE_KEY: 'claude-key-4f0d' };
  let local: ChatCompletionsServer;
  let router: ChatCompletionsServer;
  let claude: AnthropicMessagesServer;
  let server: ServerProcess;
  let work: string;
  const cli = (...args: string[]) => runCli(args, { STEPGATE_URL: server.baseUrl, STEPGATE_DATA_DIR: join(work, 'data'), STEPGATE_TOKEN: undefined });

  beforeAll(async () => {
    local = await startChatCompletionsServer({ reply: 'Q3 notes: revenue up 3%.', usage: { prompt_tokens: 21, completion_tokens: 8, total_tokens: 29 } });
    router = await startChatCompletionsServer({ reply: '{"ok": true, "issues": []}', usage: { prompt_tokens: 40, completion_tokens: 9, total_tokens: 49 } });
    router.serveModels(['checker-1', 'checker-2']);
    claude = await startAnthropicMessagesServer({ apiKey: keys.CLAUDE_KEY, models: ['claude-test-20260101'], answers: [{ text: 'Memo: revenue grew 3% in Q3.', usage: { input_tokens: 60, output_tokens: 12 } }] });
    work = mkdtempSync(join(tmpdir(), 'stepgate-four-providers-'));
    writeFileSync(
      join(work, 'stepgate.providers.yaml'),
      `providers:
  local:  { kind: openai, base_url: "${local.baseUrl}", api_key_env: LOCAL_LLM_KEY, max_concurrency: 2 }
  router: { kind: openai, base_url: "${router.baseUrl}", api_key_env: ROUTER_KEY }
  claude: { kind: anthropic, base_url: "${claude.baseUrl}", api_key_env: CLAUDE_KEY, max_concurrency: 3 }
`,
    );
    writeFileSync(
      join(work, 'pipeline.yaml'),
      `name: four-providers
steps:
  - key: draft
    model: "local:qwen2.5-7b"
    system: "You draft notes for the {{inputs.team}} team."
    prompt: "Draft notes on {{inputs.topic}}."
  - key: check
    depends_on: [draft]
    model: "router:checker-1"
    system: "You check drafts and answer JSON."
    prompt: "Check: {{steps.draft.output}}"
    output:
      format: json
      schema: { type: object, properties: { ok: { type: boolean }, issues: { type: array, items: { type: string } } }, required: [ok, issues] }
  - key: memo
    depends_on: [draft, check]
    model: "claude:claude-test"
    system: "You write memos for the {{inputs.team}} team."
    prompt: "Write the memo from {{steps.draft.output}} (checked: {{steps.check.output.ok}})."
    params: { max_tokens: 300 }
  - key: stamp
    depends_on: [memo]
    model: "offline:echo"
    prompt: "Stamp: {{steps.memo.output}}"
`,
    );
    server = await startServer({ STEPGATE_DATA_DIR: migratedDataDir(join(work, 'data')), STEPGATE_PROVIDERS_FILE: join(work, 'stepgate.providers.yaml'), ...keys });
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    await Promise.all([local?.close(), router?.close(), claude?.close()]);
    rmSync(work, { recursive: true, force: true });
  });

  it('runs every step on the endpoint its provider names, with its own key and its system prompt, and sums the usage by provider and model', async () => {
    const ran = await cli('--json', 'run', join(work, 'pipeline.yaml'), '--input', 'team=finance', '--input', 'topic=Q3 revenue');
    expect(ran.code, ran.stderr).toBe(0);
    const run = JSON.parse(ran.stdout);
    expect(run.status).toBe('success');
    expect(run.step_runs.map((s: { step_key: string; status: string }) => `${s.step_key}:${s.status}`)).toEqual(['draft:SUCCESS', 'check:SUCCESS', 'memo:SUCCESS', 'stamp:SUCCESS']);
    expect(run.step_runs[3].output).toBe('[offline:echo] Stamp: Memo: revenue grew 3% in Q3.');

    // Each endpoint got exactly its provider's steps, with that provider's key.
    expect(local.requests).toHaveLength(1);
    expect(local.requests[0]!.headers.authorization).toBe(`Bearer ${keys.LOCAL_LLM_KEY}`);
    expect(local.requests[0]!.body).toMatchObject({
      model: 'qwen2.5-7b',
      messages: [
        { role: 'system', content: 'You draft notes for the finance team.' },
        { role: 'user', content: 'Draft notes on Q3 revenue.' },
      ],
    });
    expect(router.requests).toHaveLength(1);
    expect(router.requests[0]!.headers.authorization).toBe(`Bearer ${keys.ROUTER_KEY}`);
    expect(router.requests[0]!.body).toMatchObject({ model: 'checker-1', response_format: { type: 'json_schema' }, messages: [{ role: 'system', content: 'You check drafts and answer JSON.' }, { role: 'user' }] });
    expect(claude.requests).toHaveLength(1);
    expect(keyOf(claude.requests[0]!.headers)).toBe(keys.CLAUDE_KEY);
    expect(claude.requests[0]!.body).toEqual({
      model: 'claude-test',
      max_tokens: 300,
      system: 'You write memos for the finance team.',
      messages: [{ role: 'user', content: 'Write the memo from Q3 notes: revenue up 3%. (checked: true).' }],
    });

    expect(run.usage.by_model.map((m: { provider: string; model: string }) => `${m.provider}:${m.model}`)).toEqual(['claude:claude-test', 'local:qwen2.5-7b', 'offline:echo', 'router:checker-1']);
    expect(run.usage.by_model[0]).toMatchObject({ calls: 1, prompt_tokens: 60, completion_tokens: 12 });
    expect(run.usage.by_model[1]).toMatchObject({ calls: 1, prompt_tokens: 21, completion_tokens: 8 });
    expect(run.usage.by_model[3]).toMatchObject({ calls: 1, prompt_tokens: 40, completion_tokens: 9 });
    expect(run.usage.calls).toBe(4);
    expect(run.usage.prompt_tokens).toBe(60 + 21 + 40 + run.usage.by_model[2].prompt_tokens);

    // The CLI shows the usage, and a step's system prompt.
    const status = await cli('status', run.id);
    expect(status.stdout).toMatch(/^Tokens: \d+ in → \d+ out over 4 LLM calls: claude:claude-test 60→12, local:qwen2\.5-7b 21→8, offline:echo \d+→\d+, router:checker-1 40→9$/m);
    const memo = await cli('status', run.id, '--step', 'memo');
    expect(memo.code, memo.stderr).toBe(0);
    expect(memo.stdout).toContain('  system prompt:\n    You write memos for the finance team.\n  prompt:\n    Write the memo from Q3 notes: revenue up 3%. (checked: true).');
    expect(memo.stdout).toMatch(/LLM call: claude:claude-test, 1 try, \d+ ms, 60→12 tokens/);
    expect(memo.stdout).toContain('output (text):\n    Memo: revenue grew 3% in Q3.');
  });

  it('lists the providers with their kind, base URL, key variable, limit and models — never a key', async () => {
    const listed = await cli('--json', 'providers');
    expect(listed.code, listed.stderr).toBe(0);
    const { items } = JSON.parse(listed.stdout);
    expect(items).toEqual([
      { name: 'offline', kind: 'offline', base_url: null, api_key_env: null, key_set: false, max_concurrency: 16, models: null },
      expect.objectContaining({ name: 'openai', kind: 'openai', api_key_env: 'OPENAI_API_KEY', max_concurrency: 16 }),
      expect.objectContaining({ name: 'anthropic', kind: 'anthropic', api_key_env: 'ANTHROPIC_API_KEY', max_concurrency: 16 }),
      { name: 'local', kind: 'openai', base_url: local.baseUrl, api_key_env: 'LOCAL_LLM_KEY', key_set: true, max_concurrency: 2, models: null },
      { name: 'router', kind: 'openai', base_url: router.baseUrl, api_key_env: 'ROUTER_KEY', key_set: true, max_concurrency: 16, models: ['checker-1', 'checker-2'] },
      { name: 'claude', kind: 'anthropic', base_url: claude.baseUrl, api_key_env: 'CLAUDE_KEY', key_set: true, max_concurrency: 3, models: ['claude-test-20260101'] },
    ]);
    const human = await cli('providers');
    expect(human.stdout).toMatch(/^claude +anthropic +http:\/\/127\.0\.0\.1:\d+ +CLAUDE_KEY \(set\) +3 +claude-test-20260101$/m);
    for (const key of Object.values(keys)) expect(listed.stdout + human.stdout).not.toContain(key);
  });

  it('refuses a manifest naming a provider the server does not have, naming the step', async () => {
    writeFileSync(join(work, 'elsewhere.yaml'), 'name: elsewhere\nsteps:\n  - { key: summary, prompt: hi, model: "nowhere:big" }\n');
    const refused = await cli('--json', 'run', join(work, 'elsewhere.yaml'));
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout).error.problem).toMatchObject({
      status: 422,
      errors: [{ path: 'steps[0].model', message: 'step "summary" names the unknown provider "nowhere": expected one of "offline", "openai", "anthropic", "local", "router", "claude"' }],
    });
  });
});

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { providerNames, readConfig } from '../src/config.js';
import { ConfigInvalidError } from '../src/core/errors.js';
import { parseProvidersFile } from '../src/core/providers-file.js';
import { runCli } from './support/cli.js';

const FILE = 'stepgate.providers.yaml';

function providersFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'stepgate-providers-'));
  const path = join(dir, FILE);
  writeFileSync(path, text);
  return path;
}

function refusal(text: string): string {
  try {
    parseProvidersFile(text, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigInvalidError);
    return (err as Error).message;
  }
  throw new Error('expected the file to be refused');
}

describe('the providers file', () => {
  it('adds openai and anthropic endpoints side by side, each with the key of the variable it names and its own limits', () => {
    const path = providersFile(`
providers:
  local:  { kind: openai, base_url: "http://127.0.0.1:8000/v1", max_concurrency: 4 }
  router: { kind: openai, base_url: "https://openrouter.ai/api/v1", api_key_env: ROUTER_KEY, timeout_ms: 9000, max_tries: 5 }
  claude: { kind: anthropic, api_key_env: CLAUDE_KEY, max_concurrency: 8 }
  proxy:  { kind: anthropic, base_url: "http://127.0.0.1:4000" }
`);
    const config = readConfig({ STEPGATE_PROVIDERS_FILE: path, ROUTER_KEY: 'rk-1', CLAUDE_KEY: 'ck-2', OPENAI_API_KEY: 'ok-3', STEPGATE_LLM_TIMEOUT_MS: '7000' });
    expect(config.providersFile).toBe(path);
    expect(config.providers.map((p) => p.name)).toEqual(['offline', 'openai', 'anthropic', 'local', 'router', 'claude', 'proxy']);
    const byName = new Map(config.providers.map((p) => [p.name, p]));
    expect(byName.get('local')).toEqual({ name: 'local', kind: 'openai', baseUrl: 'http://127.0.0.1:8000/v1', apiKeyEnv: null, apiKey: undefined, maxConcurrency: 4, timeoutMs: 7000, maxTries: 3, definedAt: `${path}:3` });
    expect(byName.get('router')).toMatchObject({ kind: 'openai', apiKeyEnv: 'ROUTER_KEY', apiKey: 'rk-1', maxConcurrency: 16, timeoutMs: 9000, maxTries: 5 });
    expect(byName.get('claude')).toMatchObject({ kind: 'anthropic', baseUrl: 'https://api.anthropic.com', apiKeyEnv: 'CLAUDE_KEY', apiKey: 'ck-2', maxConcurrency: 8 });
    expect(byName.get('proxy')).toMatchObject({ kind: 'anthropic', baseUrl: 'http://127.0.0.1:4000', apiKey: undefined });
    expect(byName.get('openai')).toMatchObject({ apiKeyEnv: 'OPENAI_API_KEY', apiKey: 'ok-3', definedAt: 'built in' });
    expect(providerNames({ STEPGATE_PROVIDERS_FILE: path })).toEqual(['offline', 'openai', 'anthropic', 'local', 'router', 'claude', 'proxy']);
  });

  it('lets an entry named like a built-in provider refine it, keeping its base URL and key variable', () => {
    const path = providersFile('providers:\n  anthropic: { kind: anthropic, max_concurrency: 2 }\n  openai: { kind: openai, api_key_env: TEAM_OPENAI_KEY }\n');
    const config = readConfig({ STEPGATE_PROVIDERS_FILE: path, ANTHROPIC_BASE_URL: 'http://127.0.0.1:4001', ANTHROPIC_API_KEY: 'ak', OPENAI_API_KEY: 'not-this-one', TEAM_OPENAI_KEY: 'team' });
    expect(config.providers.map((p) => p.name)).toEqual(['offline', 'openai', 'anthropic']);
    expect(config.providers[2]).toMatchObject({ kind: 'anthropic', baseUrl: 'http://127.0.0.1:4001', apiKeyEnv: 'ANTHROPIC_API_KEY', apiKey: 'ak', maxConcurrency: 2 });
    expect(config.providers[1]).toMatchObject({ kind: 'openai', baseUrl: 'https://api.openai.com/v1', apiKeyEnv: 'TEAM_OPENAI_KEY', apiKey: 'team' });
    expect(refusal('providers:\n  openai: { kind: anthropic }\n')).toContain('providers.openai.kind: "openai" is the built-in openai provider: its kind is openai');
    expect(refusal('providers:\n  offline: { kind: openai, base_url: "http://x/v1" }\n')).toContain('"offline" is the built-in deterministic provider and cannot be configured');
    expect(refusal('providers:\n  claude: { kind: anthropic, base_url: "https://api.anthropic.com/v1" }\n')).toContain('providers.claude.base_url: a kind anthropic base_url is the server without /v1');
  });

  it('refuses each mistake docs/providers.md shows with the error it shows', () => {
    const doc = readFileSync(new URL('../docs/providers.md', import.meta.url), 'utf8');
    const section = /<!-- providers-mistakes:start -->([\s\S]*?)<!-- providers-mistakes:end -->/.exec(doc)![1]!;
    const pairs = [...section.matchAll(/```yaml\n([\s\S]*?)```\s*```text\n([\s\S]*?)\n```/g)].map((m) => ({ yaml: m[1]!, error: m[2]! }));
    expect(pairs.length).toBeGreaterThanOrEqual(6);
    for (const { yaml, error } of pairs) {
      const message = refusal(yaml);
      expect(message.split('\n').slice(1).map((line) => line.trim()), yaml).toEqual([error]);
      expect(message).toMatch(/^Invalid providers file stepgate\.providers\.yaml/);
    }
  });

  it('reports every problem at once, each at its line, never repeating what was written where a key was found', () => {
    const key = 'sk-live-0123456789SECRET';
    const message = refusal(`providers:
  a: { kind: openai, base_url: "http://127.0.0.1:8000/v1", token: ${key} }
  b: { kind: openai, base_url: ${key} }
  c: { kind: anthropic, api_key_env: "${key}" }
  d: { kind: anthropic, base_url: "https://api.example/v1?api_key=${key}" }
  e: { kind: openai, base_url: "http://127.0.0.1:8000/v1", max_concurency: 4 }
  Bad: { kind: anthropic }
`);
    expect(message).not.toContain(key);
    expect(message.split('\n').slice(1).map((line) => line.trim().split(': ').slice(0, 2).join(': '))).toEqual([
      `${FILE}:2:67: providers.a.token`,
      `${FILE}:4:38: providers.c.api_key_env`,
      `${FILE}:5:35: providers.d.base_url`,
      `${FILE}:3:32: providers.b.base_url`,
      `${FILE}:6:76: providers.e.max_concurency`,
      `${FILE}:7:8: providers.Bad`,
    ]);
    expect(message).toContain('providers.b.base_url: expected an http:// or https:// URL, found a string');
  });

  it('refuses a STEPGATE_PROVIDERS_FILE that cannot be read, and an empty file', () => {
    expect(() => readConfig({ STEPGATE_PROVIDERS_FILE: '/nonexistent/stepgate.providers.yaml' })).toThrow(/cannot read the providers file \/nonexistent\/stepgate\.providers\.yaml: ENOENT/);
    expect(refusal('')).toContain(`${FILE}: providers: required`);
  });
});

describe('the providers file, read by real processes', () => {
  it('stops `stepgate serve` at start with exit code 2, naming the file and the line', async () => {
    const path = providersFile('providers:\n  local: { kind: ollama, base_url: "http://127.0.0.1:11434/v1" }\n');
    const result = await runCli(['serve'], { STEPGATE_PROVIDERS_FILE: path, PORT: '0', STEPGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'stepgate-data-')) });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`stepgate: Invalid providers file ${path} (1 problem):\n  ${path}:2:18: providers.local.kind: expected one of "openai", "anthropic", found string "ollama"`);
    expect(result.stdout).not.toContain('is serving');
  });

  it('is read from ./stepgate.providers.yaml when STEPGATE_PROVIDERS_FILE is unset: `stepgate validate` knows its names', async () => {
    const path = providersFile('providers:\n  local: { kind: openai, base_url: "http://127.0.0.1:8000/v1" }\n');
    const dir = path.slice(0, -FILE.length);
    writeFileSync(join(dir, 'local.yaml'), 'name: uses-local\nsteps:\n  - { key: A, prompt: hi, model: "local:qwen" }\n');
    writeFileSync(join(dir, 'elsewhere.yaml'), 'name: uses-elsewhere\nsteps:\n  - { key: A, prompt: hi, model: "elsewhere:qwen" }\n');
    const valid = await runCli(['validate', join(dir, 'local.yaml')], { STEPGATE_PROVIDERS_FILE: undefined }, undefined, dir);
    expect(valid.stdout + valid.stderr).toContain('valid');
    expect(valid.code).toBe(0);
    const unknown = await runCli(['validate', join(dir, 'elsewhere.yaml')], { STEPGATE_PROVIDERS_FILE: undefined }, undefined, dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toContain('steps[0].model: step "A" names the unknown provider "elsewhere": expected one of "offline", "openai", "anthropic", "local"');
  });
});

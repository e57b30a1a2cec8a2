import { z } from 'zod';
import { ConfigInvalidError, isStepgateError, type Issue } from './errors.js';
import { formatZodError } from './issues.js';
import { DEFAULT_PROVIDER_CONCURRENCY } from './llm.js';
import { formatPath, parseManifestSource } from './manifest/parse.js';

/**
 * The providers file (SPEC §16, `STEPGATE_PROVIDERS_FILE`, default `./stepgate.providers.yaml`
 * when it exists): LLM endpoints by name, beside the built-in ones. One Zod schema validates
 * it at start and generates `schema/providers.schema.json` for editors. A key is never written
 * in the file: `api_key_env` names the environment variable that holds it.
 */

/** The providers every server has, with no file: `offline`, `openai` (OPENAI_*), `anthropic` (ANTHROPIC_*). */
export const BUILT_IN_PROVIDERS = ['offline', 'openai', 'anthropic'] as const;
export type ProviderKind = 'offline' | 'openai' | 'anthropic';

/** The public Messages API: where a kind anthropic provider goes unless its base_url (or ANTHROPIC_BASE_URL) says otherwise. */
export const ANTHROPIC_PUBLIC_URL = 'https://api.anthropic.com';

/** The `<provider>` of `model: "<provider>:<model>"`. */
export const PROVIDER_NAME_PATTERN = /^[a-z][a-z0-9_-]*$/;
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_CONCURRENCY = 10_000;

const providerEntrySchema = z
  .strictObject({
    kind: z.enum(['openai', 'anthropic']).describe('The protocol: openai (chat completions: OpenAI, vLLM, Ollama, llama.cpp, OpenRouter…) or anthropic (the Messages API).'),
    base_url: z
      .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
      .optional()
      .describe('Where requests go: required for kind openai (e.g. http://127.0.0.1:8000/v1); kind anthropic defaults to https://api.anthropic.com.'),
    api_key_env: z
      .string()
      .regex(ENV_NAME_PATTERN)
      .optional()
      .describe('The NAME of the environment variable holding the key (e.g. OPENROUTER_API_KEY); never the key itself. Omit it for a server that needs none.'),
    max_concurrency: z
      .number()
      .int()
      .min(1)
      .max(MAX_CONCURRENCY)
      .optional()
      .describe(`Calls in flight at once to this provider, per stepgate process (default ${DEFAULT_PROVIDER_CONCURRENCY}); more wait their turn.`),
    timeout_ms: z.number().int().min(1).optional().describe('Timeout of one request (default STEPGATE_LLM_TIMEOUT_MS).'),
    max_tries: z.number().int().min(1).max(10).optional().describe('Tries per call on 429, 5xx and network errors (default STEPGATE_LLM_MAX_TRIES).'),
  })
  .describe('One LLM endpoint, named by its key under providers.');

export const providersFileSchema = z
  .strictObject({
    providers: z
      .record(z.string().regex(PROVIDER_NAME_PATTERN, 'expected a provider name of lowercase letters, digits, "_" or "-", starting with a letter'), providerEntrySchema)
      .describe('Providers by the name manifests use: model: "<name>:<model>".'),
  })
  .describe('stepgate providers file: named LLM endpoints (keys only through environment variables).');

export type ProviderEntry = z.output<typeof providerEntrySchema>;

/** One provider as the server builds it: built in, or from the file, with its key read from the environment. */
export interface ProviderSettings {
  readonly name: string;
  readonly kind: ProviderKind;
  /** null for offline. */
  readonly baseUrl: string | null;
  /** The variable the key is read from; null when it takes none. */
  readonly apiKeyEnv: string | null;
  /** The key itself, from that variable: in memory only, never stored, logged or shown. */
  readonly apiKey: string | undefined;
  readonly maxConcurrency: number;
  readonly timeoutMs: number;
  readonly maxTries: number;
  /** `built in`, or `<file>:<line>` where the entry is. */
  readonly definedAt: string;
}

export interface ParsedProvidersFile {
  readonly entries: ReadonlyArray<{ readonly name: string; readonly entry: ProviderEntry; readonly line: number | undefined }>;
}

/** Keys that would hold a secret: refused wherever they appear in an entry. */
const SECRET_KEYS = /^(api[_-]?key|key|x[_-]api[_-]key|token|auth[_-]?token|access[_-]?token|secret|password|authorization|bearer|credentials?)$/i;
/** Query parameters that would carry one in a base_url. */
const SECRET_QUERY = /key|token|secret|sig|password|auth/i;

/**
 * Parses and validates the providers file's text. Every problem is reported at once, each as
 * `<file>:<line>:<column>: <path>: <message>`, in one ConfigInvalidError — and no message
 * repeats what is written where a key was found.
 */
export function parseProvidersFile(text: string, file: string): ParsedProvidersFile {
  let source;
  try {
    source = parseManifestSource(text, { maxDepth: 16, subject: `The providers file ${file}` });
  } catch (err) {
    if (!isStepgateError(err)) throw err;
    const at = /at line (\d+), column (\d+): (.*)$/s.exec(err.message);
    throw new ConfigInvalidError(`Invalid providers file ${file}:\n  ${at ? `${file}:${at[1]}:${at[2]}: not valid YAML: ${at[3]}` : err.message}`);
  }
  const value = source.value ?? {};
  const secrets = secretIssues(value);
  const hidden = new Set(secrets.map((issue) => issue.path));
  const parsed = providersFileSchema.safeParse(value, { reportInput: true });
  const shapeIssues = parsed.success ? [] : formatZodError(parsed.error).filter((issue) => !hidden.has(issue.path) && !issue.message.startsWith('Invalid key in record'));
  const issues = [...secrets, ...shapeIssues.map(withoutValue), ...ruleIssues(value)];
  if (issues.length > 0 || !parsed.success) {
    const lines = issues.map((issue) => {
      const at = source.locate(issue.path);
      return `${at ? `${file}:${at.line}:${at.column}` : file}: ${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
    });
    throw new ConfigInvalidError(`Invalid providers file ${file} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n  ${lines.join('\n  ')}`);
  }
  return {
    entries: Object.entries(parsed.data.providers).map(([name, entry]) => ({ name, entry, line: source.locate(formatPath(['providers', name]))?.line })),
  };
}

/** A key written in the file, in any of the forms it could take. */
function secretIssues(value: unknown): Issue[] {
  const providers = isObject(value) && isObject(value.providers) ? value.providers : {};
  const issues: Issue[] = [];
  const advice = 'put the key in an environment variable and name that variable with api_key_env (e.g. api_key_env: OPENROUTER_API_KEY)';
  for (const [name, entry] of Object.entries(providers)) {
    if (!isObject(entry)) continue;
    for (const key of Object.keys(entry)) {
      if (SECRET_KEYS.test(key)) {
        issues.push({ path: formatPath(['providers', name, key]), message: `a key is never written in the providers file: ${advice}` });
      }
    }
    const env = entry.api_key_env;
    if (env !== undefined && (typeof env !== 'string' || !ENV_NAME_PATTERN.test(env))) {
      issues.push({
        path: formatPath(['providers', name, 'api_key_env']),
        message: 'expected the NAME of an environment variable (letters, digits and "_", e.g. OPENROUTER_API_KEY), not the key itself: a key is never written in the providers file',
      });
    }
    const url = typeof entry.base_url === 'string' ? safeUrl(entry.base_url) : undefined;
    if (url && (url.username !== '' || url.password !== '' || [...url.searchParams.keys()].some((param) => SECRET_QUERY.test(param)))) {
      issues.push({ path: formatPath(['providers', name, 'base_url']), message: `base_url carries credentials (in its user part or its query): ${advice}` });
    }
  }
  return issues;
}

/**
 * A message never repeats a string the file holds, except a `kind`: whatever was pasted in
 * the wrong place might be a key.
 */
function withoutValue(issue: Issue): Issue {
  return issue.path.endsWith('.kind') ? issue : { ...issue, message: issue.message.replace(/, found string .*$/s, ', found a string') };
}

/** What the schema cannot say (or says less clearly): names, base_url where the kind needs it, the built-in names. */
function ruleIssues(value: unknown): Issue[] {
  const providers = isObject(value) && isObject(value.providers) ? value.providers : {};
  const issues: Issue[] = [];
  for (const [name, entry] of Object.entries(providers)) {
    const at = (key?: string) => formatPath(key ? ['providers', name, key] : ['providers', name]);
    if (!PROVIDER_NAME_PATTERN.test(name)) {
      issues.push({ path: at(), message: 'expected a provider name of lowercase letters, digits, "_" or "-", starting with a letter (manifests write model: "<name>:<model>")' });
    }
    if (!isObject(entry)) continue;
    if (name === 'offline') {
      issues.push({ path: at(), message: '"offline" is the built-in deterministic provider and cannot be configured: choose another name' });
      continue;
    }
    if ((name === 'openai' || name === 'anthropic') && entry.kind !== undefined && entry.kind !== name) {
      issues.push({ path: at('kind'), message: `"${name}" is the built-in ${name} provider: its kind is ${name} (choose another name for a ${String(entry.kind)} endpoint)` });
    }
    if (entry.kind === 'anthropic' && typeof entry.base_url === 'string' && /\/v1\/?$/.test(entry.base_url)) {
      issues.push({ path: at('base_url'), message: 'a kind anthropic base_url is the server without /v1 (the client adds /v1/messages), e.g. "https://api.anthropic.com": remove the /v1' });
    }
    if (entry.kind === 'openai' && entry.base_url === undefined && name !== 'openai') {
      issues.push({ path: at('base_url'), message: 'required: a kind openai provider needs the base_url of its server (e.g. "http://127.0.0.1:8000/v1"); the public OpenAI API is the built-in provider "openai"' });
    }
  }
  return issues;
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

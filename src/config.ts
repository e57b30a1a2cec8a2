import { existsSync, readFileSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigInvalidError } from './core/errors.js';
import { DEFAULT_PROVIDER_CONCURRENCY } from './core/llm.js';
import { ANTHROPIC_PUBLIC_URL, BUILT_IN_PROVIDERS, parseProvidersFile, type ProviderSettings } from './core/providers-file.js';
import { formatZodError } from './core/issues.js';
import { isLoopback, type AuthOptions } from './http/auth/options.js';
import { DEFAULT_ARTIFACT_SCHEMES } from './core/attestation.js';
import { DEFAULT_LIMITS, DEFAULT_MAX_ITEMS, DEFAULT_MAX_PARALLEL_STEPS, type InputLimits } from './core/limits.js';
import type { EmbeddedChoice } from './storage/open.js';

/**
 * Every setting stepgate reads, with its default. Read once, in the composition root.
 * (The README's configuration table lists the same names and defaults.)
 */
/** A whole number from an environment variable, reported as written when it is not one. */
const whole = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, 'expected a whole number')
    .default(String(fallback))
    .transform(Number)
    .pipe(z.number().min(min).max(max));

/** A comma-separated list; blanks ignored. */
const list = z
  .string()
  .default('')
  .transform((value) => value.split(',').map((item) => item.trim()).filter((item) => item !== ''));

const configSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: whole(8080, 0, 65535),
  /** postgres://… selects a PostgreSQL server; unset means the embedded database (STEPGATE_EMBEDDED). */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL')
    .optional(),
  STEPGATE_DATA_DIR: z.string().min(1).default('./.stepgate'),
  /** Without DATABASE_URL: `auto` (PostgreSQL's own server from npm, PGlite where it cannot run), `postgres` or `pglite`. */
  STEPGATE_EMBEDDED: z.enum(['auto', 'postgres', 'pglite']).default('auto'),
  STEPGATE_DEFAULT_MODEL: z.string().regex(/^[a-z][a-z0-9_-]*:.+$/, 'expected "provider:model"').default('offline:echo'),
  /** Largest request body accepted, in bytes (413 beyond it). */
  STEPGATE_BODY_LIMIT: whole(1_048_576, 1),
  /** Steps per manifest (422 beyond it, before any other validation). */
  STEPGATE_MAX_STEPS: whole(DEFAULT_LIMITS.maxSteps, 1),
  /** Characters in any one string or key of a request body or manifest. */
  STEPGATE_MAX_STRING_LENGTH: whole(DEFAULT_LIMITS.maxStringLength, 1),
  /** Nesting of objects and arrays in a request body or manifest. */
  STEPGATE_MAX_DEPTH: whole(DEFAULT_LIMITS.maxDepth, 2, 1000),
  /** URI schemes an artifact may use (comma-separated). */
  STEPGATE_ARTIFACT_SCHEMES: z
    .string()
    .regex(/^\s*[a-z][a-z0-9+.-]*\s*(,\s*[a-z][a-z0-9+.-]*\s*)*$/i, 'expected comma-separated URI schemes, e.g. s3,https,file')
    .default(DEFAULT_ARTIFACT_SCHEMES.join(','))
    .transform((list) => list.split(',').map((scheme) => scheme.trim().toLowerCase())),
  /** How long SIGTERM waits for requests under way before the process exits anyway. */
  STEPGATE_SHUTDOWN_TIMEOUT_MS: whole(30_000, 0),
  OPENAI_BASE_URL: z.url().default('https://api.openai.com/v1'),
  OPENAI_API_KEY: z.string().optional(),
  ANTHROPIC_BASE_URL: z.url().default(ANTHROPIC_PUBLIC_URL),
  ANTHROPIC_API_KEY: z.string().optional(),
  /** Named providers (SPEC §16); unset: ./stepgate.providers.yaml when it exists. */
  STEPGATE_PROVIDERS_FILE: z.string().optional(),
  /** Per-try timeout of one LLM request. */
  STEPGATE_LLM_TIMEOUT_MS: whole(60_000, 1),
  /** Tries per LLM call for retryable failures (429, 5xx, network). */
  STEPGATE_LLM_MAX_TRIES: whole(3, 1, 10),
  /** Task steps of one run in flight at once (SPEC §15); more ready steps wait, in plan order. */
  STEPGATE_MAX_PARALLEL_STEPS: whole(DEFAULT_MAX_PARALLEL_STEPS, 1, 10_000),
  /** Items of one map step (SPEC §17); a longer list fails the step (422 when the run's inputs show it). */
  STEPGATE_MAX_ITEMS: whole(DEFAULT_MAX_ITEMS, 0, 1_000_000),
  /** How long a process holds a run it advances without renewing it; renewed every third of it while it works. */
  STEPGATE_RUN_LEASE_MS: whole(15_000, 300),
  /** Named prepared statements on PostgreSQL; `off` behind a pooler that cannot keep them (PgBouncer < 1.21 in transaction mode). */
  STEPGATE_PREPARED_STATEMENTS: z.enum(['on', 'off']).default('on'),
  /** `off`: no tokens, for purely local use; refused unless HOST is a loopback address. */
  STEPGATE_AUTH: z.enum(['on', 'off']).default('on'),
  /** More host names the server answers to, comma-separated (421 for any other Host). */
  STEPGATE_ALLOWED_HOSTS: list,
  /** More origins allowed to send state-changing requests, comma-separated (403 otherwise). */
  STEPGATE_ALLOWED_ORIGINS: list,
  /** Requests per window and token (per address with STEPGATE_AUTH=off). */
  STEPGATE_RATE_LIMIT_PER_TOKEN: whole(1200, 1),
  /** Requests per window and address without a valid token. */
  STEPGATE_RATE_LIMIT_PER_ADDRESS: whole(120, 1),
  STEPGATE_RATE_LIMIT_WINDOW_MS: whole(60_000, 1),
  /**
   * Directories whose `file://` artifacts the server hashes itself at attest time (SPEC §13),
   * separated by ":" like PATH; unset means none (every artifact is recorded unverified).
   */
  STEPGATE_ARTIFACT_ROOTS: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `auto`: human-readable lines when stdout is a terminal, JSON lines otherwise; `json` or `pretty` insist. */
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
});

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly embedded: EmbeddedChoice;
  readonly defaultModel: string;
  readonly bodyLimit: number;
  readonly limits: InputLimits;
  readonly artifactSchemes: readonly string[];
  readonly shutdownTimeoutMs: number;
  /** Every provider a manifest may name: the built-in ones, then those of the providers file. */
  readonly providers: readonly ProviderSettings[];
  /** The providers file read, if any. */
  readonly providersFile: string | undefined;
  readonly llmTimeoutMs: number;
  readonly llmMaxTries: number;
  readonly runLeaseMs: number;
  readonly maxParallelSteps: number;
  readonly maxItems: number;
  readonly preparedStatements: boolean;
  readonly logLevel: string;
  readonly logFormat: 'auto' | 'json' | 'pretty';
  readonly auth: AuthOptions;
  /** STEPGATE_ARTIFACT_ROOTS as absolute paths (resolved against the working directory). */
  readonly artifactRoots: readonly string[];
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set", as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(present, { reportInput: true });
  if (parsed.success) {
    const env = parsed.data;
    if (env.STEPGATE_AUTH === 'off' && !isLoopback(env.HOST)) {
      throw new ConfigInvalidError(
        `Invalid configuration:\n  STEPGATE_AUTH=off is refused with HOST=${env.HOST}: without tokens anyone who can reach the port could attest as anyone, ` +
          'so authentication may only be off on a loopback address (127.0.0.1, ::1, localhost). Unset STEPGATE_AUTH, or set HOST=127.0.0.1.',
      );
    }
    return {
      host: env.HOST,
      port: env.PORT,
      databaseUrl: env.DATABASE_URL,
      dataDir: env.STEPGATE_DATA_DIR,
      embedded: env.STEPGATE_EMBEDDED,
      defaultModel: env.STEPGATE_DEFAULT_MODEL,
      bodyLimit: env.STEPGATE_BODY_LIMIT,
      limits: { maxSteps: env.STEPGATE_MAX_STEPS, maxStringLength: env.STEPGATE_MAX_STRING_LENGTH, maxDepth: env.STEPGATE_MAX_DEPTH },
      artifactSchemes: env.STEPGATE_ARTIFACT_SCHEMES,
      shutdownTimeoutMs: env.STEPGATE_SHUTDOWN_TIMEOUT_MS,
      ...readProviders(env, present),
      llmTimeoutMs: env.STEPGATE_LLM_TIMEOUT_MS,
      llmMaxTries: env.STEPGATE_LLM_MAX_TRIES,
      runLeaseMs: env.STEPGATE_RUN_LEASE_MS,
      maxParallelSteps: env.STEPGATE_MAX_PARALLEL_STEPS,
      maxItems: env.STEPGATE_MAX_ITEMS,
      preparedStatements: env.STEPGATE_PREPARED_STATEMENTS === 'on',
      logLevel: env.LOG_LEVEL,
      logFormat: env.LOG_FORMAT,
      auth: {
        mode: env.STEPGATE_AUTH,
        host: env.HOST,
        allowedHosts: env.STEPGATE_ALLOWED_HOSTS,
        allowedOrigins: env.STEPGATE_ALLOWED_ORIGINS,
        rateLimit: { perToken: env.STEPGATE_RATE_LIMIT_PER_TOKEN, perAddress: env.STEPGATE_RATE_LIMIT_PER_ADDRESS, windowMs: env.STEPGATE_RATE_LIMIT_WINDOW_MS },
      },
      artifactRoots: (env.STEPGATE_ARTIFACT_ROOTS ?? '')
        .split(delimiter)
        .filter((root) => root !== '')
        .map((root) => resolve(root)),
    };
  }
  const problems = formatZodError(parsed.error).map((issue) => `${issue.path}: ${issue.message}`);
  throw new ConfigInvalidError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
}

/** Where the providers file is looked for when STEPGATE_PROVIDERS_FILE is unset (used when it exists). */
export const DEFAULT_PROVIDERS_FILE = './stepgate.providers.yaml';

/**
 * The providers a manifest may name (SPEC §16): `offline`, `openai` (OPENAI_BASE_URL,
 * OPENAI_API_KEY) and `anthropic` (ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY), then the entries of
 * the providers file, each key read from the variable its `api_key_env` names. An entry named
 * `openai` or `anthropic` refines the built-in one (its limits, another key variable). A
 * STEPGATE_PROVIDERS_FILE that cannot be read, or a file that does not validate, is a
 * ConfigInvalidError naming the file (and the line).
 */
function readProviders(
  settings: Pick<z.output<typeof configSchema>, 'OPENAI_BASE_URL' | 'OPENAI_API_KEY' | 'ANTHROPIC_BASE_URL' | 'ANTHROPIC_API_KEY' | 'STEPGATE_LLM_TIMEOUT_MS' | 'STEPGATE_LLM_MAX_TRIES'>,
  env: Readonly<Record<string, string | undefined>>,
): { providers: ProviderSettings[]; providersFile: string | undefined } {
  const common = { maxConcurrency: DEFAULT_PROVIDER_CONCURRENCY, timeoutMs: settings.STEPGATE_LLM_TIMEOUT_MS, maxTries: settings.STEPGATE_LLM_MAX_TRIES, definedAt: 'built in' };
  const builtIn: ProviderSettings[] = [
    { ...common, name: 'offline', kind: 'offline', baseUrl: null, apiKeyEnv: null, apiKey: undefined },
    { ...common, name: 'openai', kind: 'openai', baseUrl: settings.OPENAI_BASE_URL, apiKeyEnv: 'OPENAI_API_KEY', apiKey: settings.OPENAI_API_KEY },
    { ...common, name: 'anthropic', kind: 'anthropic', baseUrl: settings.ANTHROPIC_BASE_URL, apiKeyEnv: 'ANTHROPIC_API_KEY', apiKey: settings.ANTHROPIC_API_KEY },
  ];
  const file = providersFileIn(env);
  if (file === undefined) return { providers: builtIn, providersFile: undefined };
  const providers = [...builtIn];
  for (const { name, entry, line } of readProvidersFile(file).entries) {
    const base = builtIn.find((provider) => provider.name === name);
    const apiKeyEnv = entry.api_key_env ?? base?.apiKeyEnv ?? null;
    const defined: ProviderSettings = {
      name,
      kind: entry.kind,
      // Validated: only a kind anthropic entry may leave base_url out (or one refining a built-in provider).
      baseUrl: entry.base_url ?? base?.baseUrl ?? ANTHROPIC_PUBLIC_URL,
      apiKeyEnv,
      apiKey: apiKeyEnv === null ? undefined : env[apiKeyEnv],
      maxConcurrency: entry.max_concurrency ?? DEFAULT_PROVIDER_CONCURRENCY,
      timeoutMs: entry.timeout_ms ?? settings.STEPGATE_LLM_TIMEOUT_MS,
      maxTries: entry.max_tries ?? settings.STEPGATE_LLM_MAX_TRIES,
      definedAt: line === undefined ? file : `${file}:${line}`,
    };
    if (base) providers[providers.indexOf(base)] = defined;
    else providers.push(defined);
  }
  return { providers, providersFile: file };
}

/**
 * The provider names a manifest may use on a server started with this environment: the
 * built-in ones and those of the providers file (`stepgate validate`, offline).
 */
export function providerNames(env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  const file = providersFileIn(env);
  const named = file === undefined ? [] : readProvidersFile(file).entries.map((entry) => entry.name);
  return [...new Set([...BUILT_IN_PROVIDERS, ...named])];
}

function providersFileIn(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const named = env.STEPGATE_PROVIDERS_FILE;
  if (named !== undefined && named !== '') return named;
  return existsSync(DEFAULT_PROVIDERS_FILE) ? DEFAULT_PROVIDERS_FILE : undefined;
}

function readProvidersFile(file: string) {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigInvalidError(`Invalid configuration:\n  STEPGATE_PROVIDERS_FILE: cannot read the providers file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseProvidersFile(text, file);
}

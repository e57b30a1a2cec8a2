import { delimiter, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigInvalidError } from './core/errors.js';
import { formatZodError } from './core/issues.js';
import { MAX_RETRY_AFTER_MS } from './core/llm.js';

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

const configSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: whole(8080, 0, 65535),
  /** postgres://… selects a PostgreSQL server; unset means embedded PGlite. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL')
    .optional(),
  STEPGATE_DATA_DIR: z.string().min(1).default('./.stepgate'),
  STEPGATE_DEFAULT_MODEL: z.string().regex(/^[a-z][a-z0-9_-]*:.+$/, 'expected "provider:model"').default('offline:echo'),
  /** Largest request body accepted, in bytes (413 beyond it). */
  STEPGATE_BODY_LIMIT: whole(1_048_576, 1),
  OPENAI_BASE_URL: z.url().default('https://api.openai.com/v1'),
  OPENAI_API_KEY: z.string().optional(),
  /** Per-try timeout of one LLM request. */
  STEPGATE_LLM_TIMEOUT_MS: whole(60_000, 1),
  /** Tries per LLM call for retryable failures (429, 5xx, network). */
  STEPGATE_LLM_MAX_TRIES: whole(3, 1, 10),
  /** How long a process may hold a run it advances before another may recover it. */
  STEPGATE_RUN_LEASE_MS: whole(300_000, 1),
  /** Named prepared statements on PostgreSQL; `off` behind a pooler that cannot keep them (PgBouncer < 1.21 in transaction mode). */
  STEPGATE_PREPARED_STATEMENTS: z.enum(['on', 'off']).default('on'),
  /**
   * Directories whose `file://` artifacts the server hashes itself at attest time (SPEC §13),
   * separated by ":" like PATH; unset means none (every artifact is recorded unverified).
   */
  STEPGATE_ARTIFACT_ROOTS: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly defaultModel: string;
  readonly bodyLimit: number;
  readonly openaiBaseUrl: string;
  readonly openaiApiKey: string | undefined;
  readonly llmTimeoutMs: number;
  readonly llmMaxTries: number;
  readonly runLeaseMs: number;
  readonly preparedStatements: boolean;
  readonly logLevel: string;
  /** STEPGATE_ARTIFACT_ROOTS as absolute paths (resolved against the working directory). */
  readonly artifactRoots: readonly string[];
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set", as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(present, { reportInput: true });
  if (parsed.success) {
    const env = parsed.data;
    // A run's lease must outlast the longest LLM call (every try timing out, the longest
    // Retry-After between tries), or another process could take the run over while the call
    // is still under way and call again.
    const longestCall = env.STEPGATE_LLM_TIMEOUT_MS * env.STEPGATE_LLM_MAX_TRIES + MAX_RETRY_AFTER_MS * (env.STEPGATE_LLM_MAX_TRIES - 1);
    if (env.STEPGATE_RUN_LEASE_MS <= longestCall) {
      throw new ConfigInvalidError(
        `Invalid configuration:\n  STEPGATE_RUN_LEASE_MS (${env.STEPGATE_RUN_LEASE_MS}) must exceed the longest LLM call, ` +
          `STEPGATE_LLM_TIMEOUT_MS × STEPGATE_LLM_MAX_TRIES + 30000 × (STEPGATE_LLM_MAX_TRIES − 1) (${longestCall}): raise it, or lower the timeout or the tries.`,
      );
    }
    return {
      host: env.HOST,
      port: env.PORT,
      databaseUrl: env.DATABASE_URL,
      dataDir: env.STEPGATE_DATA_DIR,
      defaultModel: env.STEPGATE_DEFAULT_MODEL,
      bodyLimit: env.STEPGATE_BODY_LIMIT,
      openaiBaseUrl: env.OPENAI_BASE_URL,
      openaiApiKey: env.OPENAI_API_KEY,
      llmTimeoutMs: env.STEPGATE_LLM_TIMEOUT_MS,
      llmMaxTries: env.STEPGATE_LLM_MAX_TRIES,
      runLeaseMs: env.STEPGATE_RUN_LEASE_MS,
      preparedStatements: env.STEPGATE_PREPARED_STATEMENTS === 'on',
      logLevel: env.LOG_LEVEL,
      artifactRoots: (env.STEPGATE_ARTIFACT_ROOTS ?? '')
        .split(delimiter)
        .filter((root) => root !== '')
        .map((root) => resolve(root)),
    };
  }
  const problems = formatZodError(parsed.error).map((issue) => `${issue.path}: ${issue.message}`);
  throw new ConfigInvalidError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
}

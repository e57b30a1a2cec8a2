import { z } from 'zod';
import { ConfigInvalidError } from './core/errors.js';
import { formatZodError } from './core/issues.js';

/**
 * Every setting stepgate reads, with its default. Read once, in the composition root.
 * (The README's configuration table lists the same names and defaults.)
 */
const configSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** postgres://… selects a PostgreSQL server; unset means embedded PGlite. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL')
    .optional(),
  STEPGATE_DATA_DIR: z.string().min(1).default('./.stepgate'),
  STEPGATE_DEFAULT_MODEL: z.string().regex(/^[a-z][a-z0-9_-]*:.+$/, 'expected "provider:model"').default('offline:echo'),
  /** Largest request body accepted, in bytes (413 beyond it). */
  STEPGATE_BODY_LIMIT: z.coerce.number().int().positive().default(1_048_576),
  OPENAI_BASE_URL: z.url().default('https://api.openai.com/v1'),
  OPENAI_API_KEY: z.string().optional(),
  /** Per-try timeout of one LLM request. */
  STEPGATE_LLM_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /** Tries per LLM call for retryable failures (429, 5xx, network). */
  STEPGATE_LLM_MAX_TRIES: z.coerce.number().int().min(1).max(10).default(3),
  /** How long a process may hold a run it advances before another may recover it. */
  STEPGATE_RUN_LEASE_MS: z.coerce.number().int().positive().default(300_000),
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
  readonly logLevel: string;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set", as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(present, { reportInput: true });
  if (parsed.success) {
    const env = parsed.data;
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
      logLevel: env.LOG_LEVEL,
    };
  }
  const problems = formatZodError(parsed.error).map((issue) => `${issue.path}: ${issue.message}`);
  throw new ConfigInvalidError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
}

import { delimiter, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigInvalidError } from './core/errors.js';
import { formatZodError } from './core/issues.js';
import { isLoopback, type AuthOptions } from './http/auth/options.js';
import { DEFAULT_ARTIFACT_SCHEMES } from './core/attestation.js';
import { DEFAULT_LIMITS, type InputLimits } from './core/limits.js';
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
  /** Per-try timeout of one LLM request. */
  STEPGATE_LLM_TIMEOUT_MS: whole(60_000, 1),
  /** Tries per LLM call for retryable failures (429, 5xx, network). */
  STEPGATE_LLM_MAX_TRIES: whole(3, 1, 10),
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
  readonly openaiBaseUrl: string;
  readonly openaiApiKey: string | undefined;
  readonly llmTimeoutMs: number;
  readonly llmMaxTries: number;
  readonly runLeaseMs: number;
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
      openaiBaseUrl: env.OPENAI_BASE_URL,
      openaiApiKey: env.OPENAI_API_KEY,
      llmTimeoutMs: env.STEPGATE_LLM_TIMEOUT_MS,
      llmMaxTries: env.STEPGATE_LLM_MAX_TRIES,
      runLeaseMs: env.STEPGATE_RUN_LEASE_MS,
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

import { describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.js';
import { ConfigInvalidError } from '../src/core/errors.js';

describe('configuration from the environment', () => {
  it('has the documented defaults', () => {
    expect(readConfig({})).toEqual({
      host: '127.0.0.1',
      port: 8080,
      databaseUrl: undefined,
      dataDir: './.stepgate',
      embedded: 'auto',
      defaultModel: 'offline:echo',
      bodyLimit: 1_048_576,
      providers: [
        { name: 'offline', kind: 'offline', baseUrl: null, apiKeyEnv: null, apiKey: undefined, maxConcurrency: 16, timeoutMs: 60_000, maxTries: 3, definedAt: 'built in' },
        { name: 'openai', kind: 'openai', baseUrl: 'https://api.openai.com/v1', apiKeyEnv: 'OPENAI_API_KEY', apiKey: undefined, maxConcurrency: 16, timeoutMs: 60_000, maxTries: 3, definedAt: 'built in' },
        { name: 'anthropic', kind: 'anthropic', baseUrl: 'https://api.anthropic.com', apiKeyEnv: 'ANTHROPIC_API_KEY', apiKey: undefined, maxConcurrency: 16, timeoutMs: 60_000, maxTries: 3, definedAt: 'built in' },
      ],
      providersFile: undefined,
      llmTimeoutMs: 60_000,
      llmMaxTries: 3,
      runLeaseMs: 15_000,
      maxParallelSteps: 16,
      maxItems: 1000,
      artifactSchemes: ['s3', 'gs', 'az', 'https', 'http', 'file'],
      limits: { maxDepth: 64, maxSteps: 1000, maxStringLength: 100_000 },
      shutdownTimeoutMs: 30_000,
      preparedStatements: true,
      logLevel: 'info',
      logFormat: 'auto',
      auth: { mode: 'on', host: '127.0.0.1', allowedHosts: [], allowedOrigins: [], rateLimit: { perToken: 1200, perAddress: 120, windowMs: 60_000 } },
      artifactRoots: [],
    });
  });

  it('reads the access settings, and refuses STEPGATE_AUTH=off on a host that is not loopback', () => {
    const config = readConfig({ STEPGATE_ALLOWED_HOSTS: 'stepgate.internal, ops.example ,', STEPGATE_ALLOWED_ORIGINS: 'https://console.example', STEPGATE_RATE_LIMIT_PER_TOKEN: '50' });
    expect(config.auth).toMatchObject({ allowedHosts: ['stepgate.internal', 'ops.example'], allowedOrigins: ['https://console.example'], rateLimit: { perToken: 50 } });
    for (const host of ['127.0.0.1', '::1', 'localhost', '127.0.0.2']) expect(readConfig({ STEPGATE_AUTH: 'off', HOST: host }).auth.mode).toBe('off');
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'stepgate.example']) {
      expect(() => readConfig({ STEPGATE_AUTH: 'off', HOST: host })).toThrow(/STEPGATE_AUTH=off is refused .*loopback/s);
    }
    expect(() => readConfig({ STEPGATE_AUTH: 'maybe' })).toThrow(/STEPGATE_AUTH/);
  });

  it('treats empty variables as unset and reads the rest', () => {
    const config = readConfig({ PORT: '9090', DATABASE_URL: '', STEPGATE_DATA_DIR: '/var/lib/stepgate', STEPGATE_DEFAULT_MODEL: 'openai:gpt-4o-mini' });
    expect(config).toMatchObject({ port: 9090, databaseUrl: undefined, dataDir: '/var/lib/stepgate', defaultModel: 'openai:gpt-4o-mini' });
    expect(readConfig({ STEPGATE_PREPARED_STATEMENTS: 'off' }).preparedStatements).toBe(false);
    expect(readConfig({ STEPGATE_ARTIFACT_ROOTS: '/data/out::relative/dir' }).artifactRoots).toEqual(['/data/out', `${process.cwd()}/relative/dir`]);
  });

  it('refuses invalid values, naming each', () => {
    expect(() => readConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x' })).toThrow(ConfigInvalidError);
    try {
      readConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x' });
    } catch (err) {
      expect((err as Error).message).toMatch(/PORT: .*found string "eighty"/);
      expect((err as Error).message).toMatch(/DATABASE_URL: expected a postgres:\/\/ or postgresql:\/\/ URL/);
    }
  });

  it('takes a short run lease, renewed during LLM calls, and refuses one under 300 ms', () => {
    // The lease is renewed while a call is in flight, so it need not outlast the longest call.
    expect(readConfig({ STEPGATE_LLM_TIMEOUT_MS: '120000', STEPGATE_LLM_MAX_TRIES: '3' }).runLeaseMs).toBe(15_000);
    expect(() => readConfig({ STEPGATE_RUN_LEASE_MS: '299' })).toThrow(/STEPGATE_RUN_LEASE_MS/);
  });
});

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
      defaultModel: 'offline:echo',
      bodyLimit: 1_048_576,
      openaiBaseUrl: 'https://api.openai.com/v1',
      openaiApiKey: undefined,
      llmTimeoutMs: 60_000,
      llmMaxTries: 3,
      runLeaseMs: 300_000,
      preparedStatements: true,
      logLevel: 'info',
      artifactRoots: [],
    });
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

  it('refuses a run lease shorter than the longest LLM call', () => {
    expect(() => readConfig({ STEPGATE_LLM_TIMEOUT_MS: '120000', STEPGATE_LLM_MAX_TRIES: '3' })).toThrow(/STEPGATE_RUN_LEASE_MS \(300000\) must exceed/);
    expect(readConfig({ STEPGATE_LLM_TIMEOUT_MS: '120000', STEPGATE_LLM_MAX_TRIES: '3', STEPGATE_RUN_LEASE_MS: '600000' }).runLeaseMs).toBe(600_000);
  });
});

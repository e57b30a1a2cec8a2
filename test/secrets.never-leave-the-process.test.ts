import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../src/storage/database.js';
import { openPglite } from '../src/storage/pglite/connect.js';
import { keyOf, startAnthropicMessagesServer, type AnthropicAnswer, type AnthropicMessagesServer } from './support/anthropic-messages-server.js';
import { startChatCompletionsServer, type ChatCompletionsServer, type ScriptedAnswer } from './support/chat-completions-server.js';
import { runCli } from './support/cli.js';
import { migratedDataDir } from './support/data-dir.js';
import { startServer, type ServerProcess } from './support/server-process.js';

/**
 * SPEC §16: no key leaves the process. Distinctive keys for every provider — the built-in
 * openai and anthropic, a `kind: openai` and a `kind: anthropic` entry of the providers file —
 * steps on each that succeed, meet a 401 (whose message echoes the key, as a careless proxy
 * would), time out and are cut off at max_tokens; then every place a key could end up is
 * searched: every table of the database (and the raw bytes of its files), the server's logs,
 * every API answer (NDJSON streams included), the provenance statements, /metrics and the
 * CLI's output. Not one hit — while each endpoint did receive its own key.
 */
describe('secrets never leave the process', { timeout: 300_000 }, () => {
  const key = (name: string) => `sk-${name}-SWEEP-${randomBytes(12).toString('hex')}`;
  const keys = { OPENAI_API_KEY: key('openai'), ANTHROPIC_API_KEY: key('anthropic'), LOCAL_SWEEP_KEY: key('local'), CLAUDE_SWEEP_KEY: key('claude') };
  const allKeys = Object.values(keys);
  let openai: ChatCompletionsServer;
  let local: ChatCompletionsServer;
  let anthropic: AnthropicMessagesServer;
  let claude: AnthropicMessagesServer;
  let server: ServerProcess;
  let work: string;
  let dataDir: string;
  let token: string;
  /** Every answer the API gave, as text. */
  const answers: string[] = [];

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
    const response = await fetch(`${server.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    answers.push(text);
    return { status: response.status, text };
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the JSON of any route
  const json = async (method: string, path: string, body?: unknown): Promise<any> => JSON.parse((await call(method, path, body)).text);

  beforeAll(async () => {
    openai = await startChatCompletionsServer();
    local = await startChatCompletionsServer();
    anthropic = await startAnthropicMessagesServer({ apiKey: keys.ANTHROPIC_API_KEY });
    claude = await startAnthropicMessagesServer({ apiKey: keys.CLAUDE_SWEEP_KEY });
    work = mkdtempSync(join(tmpdir(), 'stepgate-secrets-'));
    writeFileSync(
      join(work, 'stepgate.providers.yaml'),
      `providers:
  local:  { kind: openai, base_url: "${local.baseUrl}", api_key_env: LOCAL_SWEEP_KEY, timeout_ms: 1500, max_tries: 1 }
  claude: { kind: anthropic, base_url: "${claude.baseUrl}", api_key_env: CLAUDE_SWEEP_KEY, timeout_ms: 1500, max_tries: 1 }
`,
    );
    dataDir = migratedDataDir(join(work, 'data'));
    server = await startServer({
      STEPGATE_DATA_DIR: dataDir,
      STEPGATE_PROVIDERS_FILE: join(work, 'stepgate.providers.yaml'),
      OPENAI_BASE_URL: openai.baseUrl,
      ANTHROPIC_BASE_URL: anthropic.baseUrl,
      STEPGATE_LLM_TIMEOUT_MS: '1500',
      STEPGATE_LLM_MAX_TRIES: '1',
      STEPGATE_ARTIFACT_ROOTS: work,
      LOG_LEVEL: 'trace',
      ...keys,
    });
    token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    await Promise.all([openai?.close(), local?.close(), anthropic?.close(), claude?.close()]);
    rmSync(work, { recursive: true, force: true });
  });

  it('is found nowhere after successes, 401s, timeouts and truncated replies on every kind of provider', async () => {
    const chat = (scenario: Scenario, sent: string): ScriptedAnswer =>
      scenario === 'success'
        ? { reply: 'All quiet.' }
        : scenario === '401'
          ? { status: 401, body: { error: { message: `Incorrect API key provided: ${sent}`, type: 'invalid_request_error', code: 'invalid_api_key' } } }
          : scenario === 'timeout'
            ? { hang: true }
            : { reply: 'All qu', finishReason: 'length' };
    const messages = (scenario: Scenario, sent: string): AnthropicAnswer =>
      scenario === 'success'
        ? { text: 'All quiet.' }
        : scenario === '401'
          ? { status: 401, errorType: 'authentication_error', message: `invalid x-api-key: ${sent}` }
          : scenario === 'timeout'
            ? { hang: true }
            : { text: 'All qu', stopReason: 'max_tokens' };
    const providers = [
      { name: 'openai', script: (s: Scenario) => openai.script(chat(s, keys.OPENAI_API_KEY)) },
      { name: 'local', script: (s: Scenario) => local.script(chat(s, keys.LOCAL_SWEEP_KEY)) },
      { name: 'anthropic', script: (s: Scenario) => anthropic.script(messages(s, keys.ANTHROPIC_API_KEY)) },
      { name: 'claude', script: (s: Scenario) => claude.script(messages(s, keys.CLAUDE_SWEEP_KEY)) },
    ];
    writeFileSync(join(work, 'report.csv'), 'quarter,ok\nQ3,yes\n');
    for (const provider of providers) {
      const manifest = await json('POST', '/api/manifests', {
        name: `sweep-${provider.name}`,
        steps: [
          { key: 'T', model: `${provider.name}:m`, system: 'Be brief about {{inputs.topic}}.', prompt: 'Report on {{inputs.topic}}.', params: { max_tokens: 20 } },
          { key: 'B', step_type: 'compute', depends_on: ['T'], compute_contract: { executor: 'analyst', inputs: [{ name: 'report', from: 'steps.T.output' }], outputs: ['report_csv'], verification: 'operator_attest' } },
        ],
      });
      for (const scenario of SCENARIOS) {
        provider.script(scenario);
        // One start per provider streams its events (NDJSON); the others answer the run.
        const streamed = scenario === 'success' && provider.name === 'claude';
        const started = await call('POST', '/api/runs', { manifest_id: manifest.id, inputs: { topic: 'Q3' } }, streamed ? { accept: 'application/x-ndjson' } : {});
        expect(started.status, started.text).toBe(streamed ? 200 : 201);
        const run = JSON.parse(started.text.trim().split('\n').at(-1)!);
        const t = run.step_runs.find((s: { step_key: string }) => s.step_key === 'T');
        if (scenario === 'success') {
          expect(run.status, `${provider.name} ${scenario}: ${started.text}`).toBe('waiting');
          const b = run.waiting_on[0].step_run_id;
          const csv = readFileSync(join(work, 'report.csv'));
          const { createHash } = await import('node:crypto');
          await json('POST', `/api/runs/${run.id}/steps/${b}/attest`, {
            outcome: 'SUCCESS',
            notes: 'checked',
            artifacts: [{ name: 'report_csv', uri: `file://${join(work, 'report.csv')}`, sha256: createHash('sha256').update(csv).digest('hex'), bytes: csv.length }],
          });
          expect((await json('POST', `/api/runs/${run.id}/resume`)).status).toBe('success');
          await call('GET', `/api/runs/${run.id}/provenance?envelope=dsse`);
          await call('GET', `/api/runs/${run.id}/steps/${b}/provenance`);
        } else {
          expect(run.status, `${provider.name} ${scenario}: ${started.text}`).toBe('error');
          expect(t.error.kind).toBe(scenario === '401' ? 'http' : scenario === 'timeout' ? 'timeout' : 'truncated');
          await call('GET', `/api/runs/${run.id}/plan`);
        }
        await call('GET', `/api/runs/${run.id}`);
        await call('GET', `/api/runs/${run.id}/steps/${t.id}`);
      }
      await call('GET', `/api/manifests/${manifest.id}`);
    }
    const runList = await call('GET', '/api/runs?limit=200');
    expect(runList.status).toBe(200);
    for (const path of ['/api/manifests', '/api/attestations/pending', '/api/audit?limit=200', '/api/events?last_event_id=0&follow=false', '/api/providers', '/api/keys', '/api/me', '/metrics', '/api/openapi.json']) {
      expect((await call('GET', path)).status, path).toBe(200);
    }
    const cli = (...args: string[]) => runCli(args, { STEPGATE_URL: server.baseUrl, STEPGATE_TOKEN: token });
    const runs = JSON.parse(runList.text).items as Array<{ id: string }>;
    expect(runs.length).toBeGreaterThan(0);
    for (const result of [await cli('providers'), await cli('status', runs[0]!.id), await cli('status', runs[0]!.id, '--step', 'T'), await cli('--json', 'runs')]) {
      answers.push(result.stdout, result.stderr);
    }

    // Each endpoint did receive its own key (the search below would be vacuous otherwise),
    // and the 401s did echo it back.
    expect(openai.requests.every((r) => r.headers.authorization === `Bearer ${keys.OPENAI_API_KEY}`)).toBe(true);
    expect(local.requests.every((r) => r.headers.authorization === `Bearer ${keys.LOCAL_SWEEP_KEY}`)).toBe(true);
    expect(anthropic.requests.every((r) => keyOf(r.headers) === keys.ANTHROPIC_API_KEY)).toBe(true);
    expect(claude.requests.every((r) => keyOf(r.headers) === keys.CLAUDE_SWEEP_KEY)).toBe(true);
    expect([openai, local, anthropic, claude].map((s) => s.requests.length)).toEqual([4, 4, 4, 4]);
    expect(answers.join('\n')).toContain('[redacted]');

    const found = (where: string, text: string) => allKeys.filter((k) => text.includes(k)).map((k) => `${where}: ${k.slice(0, 16)}…`);
    const hits = [...found('an API answer or the CLI', answers.join('\n')), ...found('the server log', server.output())];
    expect(server.output()).toContain('"request_id"'); // the request log lines are there to search
    await server.stop();

    // Every table, row by row; and the raw files of the database, for what a dump would miss.
    const database = await openPglite({ dataDir });
    try {
      const tables = await queryRows<{ schemaname: string; tablename: string }>(database.db, sql`SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`);
      expect(tables.map((t) => t.tablename)).toEqual(expect.arrayContaining(['llm_call_artifacts', 'prompt_artifacts', 'dag_step_runs', 'dag_runs', 'run_events', 'audit_events', 'compute_attestations']));
      for (const table of tables) {
        const rows = await queryRows<{ row: string }>(database.db, sql.raw(`SELECT row_to_json(t)::text AS row FROM "${table.schemaname}"."${table.tablename}" t`));
        hits.push(...found(`table ${table.tablename}`, rows.map((r) => r.row).join('\n')));
      }
      const evidence = await queryRows<{ n: number }>(database.db, sql`SELECT count(*)::int AS n FROM llm_call_artifacts WHERE response::text LIKE '%[redacted]%' OR error::text LIKE '%[redacted]%'`);
      expect(evidence[0]!.n).toBeGreaterThanOrEqual(4);
    } finally {
      await database.close();
    }
    for (const file of filesUnder(dataDir)) hits.push(...found(`file ${file}`, readFileSync(file).toString('latin1')));
    expect(hits).toEqual([]);
  });
});

type Scenario = 'success' | '401' | 'timeout' | 'truncated';
const SCENARIOS: Scenario[] = ['success', '401', 'timeout', 'truncated'];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startChatCompletionsServer, type ChatCompletionsServer } from './support/chat-completions-server.js';
import { api, startServer, type ServerProcess } from './support/server-process.js';
import { migratedDataDir } from './support/data-dir.js';

let llm: ChatCompletionsServer | undefined;
let server: ServerProcess | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.stop();
  await llm?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  [llm, server, dir] = [undefined, undefined, undefined];
});

/**
 * SPEC §11: on SIGTERM the server stops taking requests, waits for those under way up to
 * STEPGATE_SHUTDOWN_TIMEOUT_MS, then exits; a run it was advancing stays `running` with its
 * lease, and a new process recovers it with a resume once the lease has expired.
 */
it('exits after the shutdown timeout with a slow LLM call in flight, and a new process recovers the run', { timeout: 240_000 }, async () => {
  llm = await startChatCompletionsServer({ reply: 'late', delayMs: 60_000 }, { reply: 'on time' });
  dir = mkdtempSync(join(tmpdir(), 'stepgate-sigterm-'));
  const env = {
    STEPGATE_DATA_DIR: migratedDataDir(dir),
    // Authentication is not what this test is about (the server listens on loopback).
    STEPGATE_AUTH: 'off',
    OPENAI_BASE_URL: llm.baseUrl,
    OPENAI_API_KEY: 'sk-test-secret',
    STEPGATE_DEFAULT_MODEL: 'openai:slow',
    STEPGATE_LLM_MAX_TRIES: '1',
    STEPGATE_LLM_TIMEOUT_MS: '3000',
    // Longer than the longest LLM call (3 s), as the configuration requires.
    STEPGATE_RUN_LEASE_MS: '4000',
    STEPGATE_SHUTDOWN_TIMEOUT_MS: '500',
  };
  server = await startServer(env);
  const manifest = await api(server.baseUrl, 'POST', '/api/manifests', { name: 'slow', steps: [{ key: 'A', prompt: 'take your time' }] });
  expect(manifest.status).toBe(201);
  const runId = randomUUID();
  const inFlight = api(server.baseUrl, 'POST', '/api/runs', { manifest_id: manifest.body.id, id: runId }).catch((err: Error) => err);
  while (llm.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));

  const exited = new Promise<number | null>((resolve) => server!.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  // Cut off before the LLM call could time out (3 s) or answer (60 s): exit code 1 says so.
  expect(await exited).toBe(1);
  expect(await inFlight).toBeInstanceOf(Error);
  const log = server.output().trim().split('\n').map((line) => JSON.parse(line) as { msg: string });
  expect(log.map((entry) => entry.msg)).toContain('requests still under way after STEPGATE_SHUTDOWN_TIMEOUT_MS: exiting anyway; a run they were advancing is recovered by a resume once its lease expires');
  expect(server.output()).not.toContain('sk-test-secret');

  server = await startServer(env);
  const left = await api(server.baseUrl, 'GET', `/api/runs/${runId}`);
  expect(left.body.status).toBe('running');
  expect(left.body.step_runs.map((s: { step_key: string; status: string }) => `${s.step_key}:${s.status}`)).toEqual(['A:RUNNING']);
  // Once the lease has expired, the run is stalled and a resume takes it over.
  let resumed = await api(server.baseUrl, 'POST', `/api/runs/${runId}/resume`);
  while (resumed.status === 409) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    resumed = await api(server.baseUrl, 'POST', `/api/runs/${runId}/resume`);
  }
  expect(resumed.status).toBe(200);
  expect(resumed.body.status).toBe('success');
  expect(resumed.body.step_runs[0]).toMatchObject({ step_key: 'A', status: 'SUCCESS', attempt: 2, output: 'on time' });
  expect(llm.requests).toHaveLength(2);
});

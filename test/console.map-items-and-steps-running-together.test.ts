import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESULTS_DIR, signInWithoutToken } from './support/browser.js';
import { useConsoleServer } from './support/console-server.js';
import { startLatencyLlm, type LatencyLlm } from './support/latency-llm.js';
import { api } from './support/server-process.js';

/**
 * SPEC §15, §17 in the console, in Debian's Chromium against a real `stepgate serve`: a map node
 * shows done/total, opens the list of its items, and an item waiting for attestation is
 * attested like any wait; the inbox names each item.
 */
describe('map steps in the operator console', { timeout: 90_000 }, () => {
  const suite = useConsoleServer('stepgate-console-map-', { STEPGATE_AUTH: 'off' });

  it('draws the map node with done/total, lists its items, and attests item 2 from its row', async () => {
    const stored = await api(suite.server.baseUrl, 'POST', '/api/manifests', {
      name: 'console-samples',
      steps: [
        { key: 'protocol', for_each: 'inputs.samples', prompt: 'protocol for {{item.id}}' },
        {
          key: 'measure',
          step_type: 'compute',
          depends_on: ['protocol'],
          for_each: 'inputs.samples',
          compute_contract: { executor: 'plate-reader', inputs: [], outputs: ['reading'], verification: 'operator_attest', instructions: 'Measure sample {{item.id}}' },
        },
        { key: 'report', depends_on: ['measure'], prompt: 'report' },
      ],
    });
    const samples = [{ id: 'S-1' }, { id: 'S-2' }, { id: 'S-3' }];
    const started = await api(suite.server.baseUrl, 'POST', '/api/runs', { manifest_id: stored.body.id, inputs: { samples } });
    expect(started.body.status).toBe('waiting');
    const runId = started.body.id as string;
    const reading = join(suite.work, 'reading.csv');
    writeFileSync(reading, 'well,od\nA1,0.42\n');

    const page = await suite.browser.newPage();
    await signInWithoutToken(page, suite.server.baseUrl, 'ana');
    // The inbox lists each item as its own wait, with its rendered instructions.
    const card = page.getByRole('listitem', { name: /Step measure\[2\] of run/ });
    await card.waitFor();
    expect(await card.textContent()).toContain('Measure sample S-3');
    expect(await page.getByRole('listitem', { name: /Step measure\[\d\] of run/ }).count()).toBe(3);

    await page.goto(`${suite.server.baseUrl}/runs/${runId}?step=measure`);
    const graph = page.getByRole('group', { name: "The run's steps as a graph" });
    await graph.getByRole('button', { name: 'Step protocol, task map, success, 3/3 items done' }).waitFor();
    await graph.getByRole('button', { name: 'Step measure, compute map, waiting, 0/3 items done' }).waitFor();
    // The node opens its items; item 2's row opens its evidence and the attest form.
    const items = page.getByRole('region', { name: 'Items of measure: 0/3 done' });
    await items.waitFor();
    expect(await items.getByRole('row').count()).toBe(4);
    await items.getByRole('button', { name: 'measure[2]' }).click();
    await page.waitForURL(`**/runs/${runId}?step=measure&item=2`);
    await page.getByLabel('Outcome').selectOption('SUCCESS');
    await page.getByLabel('File for reading').setInputFiles(reading);
    await page.getByLabel('URI for reading').fill(`file://${reading}`);
    await page.getByRole('button', { name: 'Attest' }).click();
    await page.getByRole('status').filter({ hasText: 'Attested measure[2]: SUCCESS' }).waitFor();
    await page.getByRole('region', { name: 'Items of measure: 1/3 done' }).waitFor();
    await graph.getByRole('button', { name: 'Step measure, compute map, waiting, 1/3 items done' }).waitFor();
    mkdirSync(RESULTS_DIR, { recursive: true });
    await page.screenshot({ path: join(RESULTS_DIR, 'console-map-step.png'), fullPage: true });

    const run = (await api(suite.server.baseUrl, 'GET', `/api/runs/${runId}`)).body;
    const attested = run.step_runs.filter((s: { step_key: string; status: string }) => s.step_key === 'measure' && s.status === 'SUCCESS');
    expect(attested.map((s: { item_index: number; attestation: { attested_by: string } }) => [s.item_index, s.attestation.attested_by])).toEqual([[2, 'ana']]);
    expect(suite.browser.problems).toEqual([]);
  });
});

describe('steps running concurrently in the operator console', { timeout: 90_000 }, () => {
  // The server's openai provider answers from a local server that holds the sections' calls (model `gate`).
  const env: Record<string, string> = { STEPGATE_AUTH: 'off', OPENAI_API_KEY: 'k' };
  let llm: LatencyLlm;
  beforeAll(async () => {
    llm = await startLatencyLlm();
    env.OPENAI_BASE_URL = llm.baseUrl;
  });
  afterAll(async () => {
    await llm?.close();
  });
  const suite = useConsoleServer('stepgate-console-running-', env);

  it('draws the three sections of a fan-out running at the same time, then all succeeded, live', async () => {
    const stored = await api(suite.server.baseUrl, 'POST', '/api/manifests', {
      name: 'console-fan-out',
      steps: [
        { key: 'plan', model: 'openai:lat-10', prompt: 'plan' },
        ...['s1', 's2', 's3'].map((key) => ({ key, depends_on: ['plan'], model: 'openai:gate', prompt: key })),
        { key: 'merge', depends_on: ['s1', 's2', 's3'], model: 'openai:lat-10', prompt: 'merge' },
      ],
    });
    const runId = randomUUID();
    const started = api(suite.server.baseUrl, 'POST', '/api/runs', { manifest_id: stored.body.id, id: runId, inputs: {} });
    await llm.inFlightReaches(3);

    const page = await suite.browser.newPage();
    await signInWithoutToken(page, suite.server.baseUrl, 'ana');
    await page.goto(`${suite.server.baseUrl}/runs/${runId}`);
    const graph = page.getByRole('group', { name: "The run's steps as a graph" });
    for (const key of ['s1', 's2', 's3']) await graph.getByRole('button', { name: `Step ${key}, task, running` }).waitFor();
    expect(await graph.locator('.dag-node.status-running').count()).toBe(3);

    llm.openGate();
    expect((await started).body.status).toBe('success');
    await expect.poll(() => graph.locator('.dag-node.status-success').count(), { timeout: 30_000 }).toBe(5);
    expect(suite.browser.problems).toEqual([]);
  });
});

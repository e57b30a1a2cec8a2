import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESULTS_DIR, signInWithoutToken } from './support/browser.js';
import { startWaitingRun } from './support/console-fixtures.js';
import { useConsoleServer } from './support/console-server.js';
import { api } from './support/server-process.js';

/**
 * The console end to end, in Debian's Chromium against a real `stepgate serve` (authentication
 * off): inbox → run page with its DAG → attest with two real files hashed in the browser →
 * resume → success.
 */
describe('the operator console in a real browser', { timeout: 90_000 }, () => {
  const suite = useConsoleServer('stepgate-console-e2e-', { STEPGATE_AUTH: 'off' });

  it('shows the wait in the inbox, draws the DAG, attests two files with their digests, resumes to success', async () => {
    const { runId } = await startWaitingRun(suite.server.baseUrl);
    // Two real files; the workbook is larger than one 8 MiB hashing chunk.
    const csv = join(suite.work, 'forecast.csv');
    const workbook = join(suite.work, 'workbook.xlsx');
    writeFileSync(csv, 'quarter,revenue\nQ3,1200\n');
    writeFileSync(workbook, randomBytes(9 * 1024 * 1024 + 123));
    const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

    const page = await suite.browser.newPage();
    await signInWithoutToken(page, suite.server.baseUrl, 'ana');

    // Inbox: the wait, with its contract.
    const card = page.getByRole('listitem', { name: /Step B of run/ });
    await card.waitFor();
    expect(await card.textContent()).toContain('excel');
    expect(await card.textContent()).toContain('Run the Q3 workbook');
    await card.getByRole('link', { name: /Step B · console-forecast v1/ }).click();

    // Run page: the DAG, B highlighted as waiting.
    await page.waitForURL(`**/runs/${runId}?step=B`);
    const graph = page.getByRole('group', { name: "The run's steps as a graph" });
    await graph.waitFor();
    expect(await graph.getByRole('button').count()).toBe(3);
    await graph.locator('.dag-node.waiting[data-step="B"]').waitFor();
    expect(await graph.locator('.dag-node.waiting').count()).toBe(1);
    expect(await graph.getByRole('button', { name: /Step A, task, success/ }).count()).toBe(1);
    expect(await page.locator('.dag-edge').count()).toBe(2);

    // Attest: Outcome, Notes, File for / URI for each output.
    await page.getByLabel('Outcome').selectOption('SUCCESS');
    await page.getByLabel('Notes').fill('Q3 workbook, checked twice');
    await page.getByLabel('File for forecast_csv').setInputFiles(csv);
    await page.getByLabel('File for workbook').setInputFiles(workbook);
    await page.getByLabel('URI for forecast_csv').fill(`file://${csv}`);
    await page.getByLabel('URI for workbook').fill(`file://${workbook}`);
    await page.getByRole('definition').filter({ hasText: sha(workbook) }).waitFor({ timeout: 30_000 });
    await page.getByRole('definition').filter({ hasText: sha(csv) }).waitFor();
    await page.getByRole('button', { name: 'Attest' }).click();
    await page.getByRole('status').filter({ hasText: 'Attested B: SUCCESS' }).waitFor();
    expect(await page.getByRole('status').filter({ hasText: 'ready to resume' }).count()).toBe(1);

    // The stored digests are Node's.
    const attested = (await api(suite.server.baseUrl, 'GET', `/api/runs/${runId}`)).body;
    const artifacts = attested.step_runs.find((s: { step_key: string }) => s.step_key === 'B').attestation.artifacts;
    expect(artifacts.map((a: { name: string; sha256: string; bytes: number; uri: string }) => [a.name, a.sha256, a.bytes, a.uri])).toEqual([
      ['forecast_csv', sha(csv), 24, `file://${csv}`],
      ['workbook', sha(workbook), 9 * 1024 * 1024 + 123, `file://${workbook}`],
    ]);
    expect(attested.step_runs.find((s: { step_key: string }) => s.step_key === 'B').attestation).toMatchObject({ attested_by: 'ana', notes: 'Q3 workbook, checked twice' });
    // The evidence shows the attestation and its artifacts.
    await page.locator(`code.sha[data-artifact="workbook"]`).filter({ hasText: sha(workbook) }).waitFor();

    // Resume, confirmed in a dialog; the page says the run succeeded.
    await page.getByRole('button', { name: 'Resume' }).click();
    const dialog = page.getByRole('dialog', { name: 'Resume?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('status').filter({ hasText: 'Resumed: the run finished with success.' }).waitFor();
    await expect.poll(() => graph.locator('.dag-node.status-success').count(), { timeout: 30_000 }).toBe(3);
    expect((await api(suite.server.baseUrl, 'GET', `/api/runs/${runId}`)).body.status).toBe('success');

    mkdirSync(RESULTS_DIR, { recursive: true });
    await page.getByRole('button', { name: /Step C/ }).click();
    await page.getByText('Prompt (attempt 1)').waitFor();
    await page.screenshot({ path: join(RESULTS_DIR, 'console-run-page.png'), fullPage: true });
    expect(suite.browser.problems).toEqual([]);
  });

  it('keeps the run page and the inbox within 360 px, with no horizontal scroll', async () => {
    const { runId } = await startWaitingRun(suite.server.baseUrl);
    const page = await suite.browser.newPage({ width: 360, height: 740 });
    await signInWithoutToken(page, suite.server.baseUrl, 'ana');
    await page.getByRole('heading', { name: 'Inbox' }).waitFor();
    // Browser-side expressions are strings: this file is type-checked for Node, without the DOM.
    const overflow = () => page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.goto(`${suite.server.baseUrl}/runs/${runId}`);
    await page.getByRole('button', { name: 'Attest' }).waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(RESULTS_DIR, 'console-run-page-360px.png'), fullPage: true });
    expect(suite.browser.problems).toEqual([]);
  });

  it('refuses an incomplete attestation next to its fields, with the keyboard alone', async () => {
    const { runId } = await startWaitingRun(suite.server.baseUrl);
    const page = await suite.browser.newPage();
    await signInWithoutToken(page, suite.server.baseUrl, 'ana');
    await page.goto(`${suite.server.baseUrl}/runs/${runId}`);
    await page.getByLabel('URI for forecast_csv').focus();
    await page.keyboard.type('no-scheme');
    // Tab to the Attest button and press Enter.
    const onAttest = () => page.evaluate<boolean>("document.activeElement?.tagName === 'BUTTON' && document.activeElement.textContent === 'Attest'");
    for (let i = 0; i < 12 && !(await onAttest()); i++) await page.keyboard.press('Tab');
    expect(await onAttest()).toBe(true);
    await page.keyboard.press('Enter');
    await page.getByText('Expected a URI with a scheme').waitFor();
    await page.getByText('On SUCCESS every declared output needs an artifact: choose the file for workbook.').waitFor();
    expect(await page.getByLabel('URI for forecast_csv').getAttribute('aria-invalid')).toBe('true');
    expect((await api(suite.server.baseUrl, 'GET', `/api/runs/${runId}`)).body.step_runs[1].status).toBe('WAITING_FOR_ATTESTATION');
    expect(suite.browser.problems).toEqual([]);
  });

  it('reaches every step of the DAG with Tab and opens each with Enter or Space, with the keyboard alone', async () => {
    const { runId } = await startWaitingRun(suite.server.baseUrl);
    const page = await suite.browser.newPage();
    await signInWithoutToken(page, suite.server.baseUrl, 'ana');
    await page.goto(`${suite.server.baseUrl}/runs/${runId}`);
    const graph = page.getByRole('group', { name: "The run's steps as a graph" });
    await graph.getByRole('button', { name: /Step C/ }).waitFor();
    // From the top of the page, Tab alone: the browser's own focus order reaches each node.
    const focusedStep = () => page.evaluate<string | null>("document.activeElement?.getAttribute('data-step') ?? null");
    const tabTo = async (key: string) => {
      for (let i = 0; i < 40 && (await focusedStep()) !== key; i++) await page.keyboard.press('Tab');
      expect(await focusedStep(), `Tab reaches step ${key}`).toBe(key);
    };
    const node = (key: string) => graph.locator(`.dag-node[data-step="${key}"]`);

    await tabTo('A');
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/runs/${runId}?step=A`);
    await page.getByText('Prompt (attempt 1)').waitFor();
    expect(await node('A').getAttribute('aria-pressed')).toBe('true');
    expect(await focusedStep()).toBe('A');

    await tabTo('B');
    await page.keyboard.press(' ');
    await page.waitForURL(`**/runs/${runId}?step=B`);
    await page.getByLabel('Outcome').waitFor();
    expect(await node('B').getAttribute('aria-pressed')).toBe('true');
    expect(await node('A').getAttribute('aria-pressed')).toBe('false');

    await tabTo('C');
    await page.keyboard.press('Enter');
    await page.getByText('Step C has not started in this run.').waitFor();
    expect(suite.browser.problems).toEqual([]);
  });

  it('uploads a manifest and shows its validation errors at their line', async () => {
    const page = await suite.browser.newPage();
    await signInWithoutToken(page, suite.server.baseUrl, 'ana');
    await page.goto(`${suite.server.baseUrl}/manifests`);
    const yaml = ['name: broken', 'steps:', '  - key: A', '    prompt: hi', '  - key: B', '    step_type: compute', '    compute_contract:', '      executor: excel', '      inputs: []', '      outputs: []', '      verification: manual'].join('\n');
    await page.getByLabel('Manifest (YAML or JSON)').fill(yaml);
    await page.getByRole('button', { name: 'Upload manifest' }).click();
    const problem = page.locator('.source li.has-problem');
    await problem.first().waitFor();
    expect(await problem.count()).toBe(1);
    expect(await problem.textContent()).toContain('verification: manual');
    expect(await problem.textContent()).toContain('line 11: steps[1].compute_contract.verification');

    await page.getByLabel('Manifest (YAML or JSON)').fill(yaml.replace('manual', 'operator_attest'));
    await page.getByRole('button', { name: 'Upload manifest' }).click();
    await page.getByRole('heading', { name: 'broken v1' }).waitFor();
    expect(await page.getByRole('group', { name: "The run's steps as a graph" }).getByRole('button').count()).toBe(2);
    // Chromium logs every 4xx answer to fetch as a console error: the refused upload's 422 is
    // the one line this flow provokes on purpose; nothing else may appear.
    expect(suite.browser.problems).toEqual([expect.stringContaining('the server responded with a status of 422')]);
  });

  it('filters the runs list by status', async () => {
    const finished = await api(suite.server.baseUrl, 'POST', '/api/manifests', { name: 'console-one-task', steps: [{ key: 'A', prompt: 'hi' }] });
    expect((await api(suite.server.baseUrl, 'POST', '/api/runs', { manifest_id: finished.body.id, inputs: {} })).body.status).toBe('success');
    await startWaitingRun(suite.server.baseUrl);
    const page = await suite.browser.newPage();
    await signInWithoutToken(page, suite.server.baseUrl, 'ana');
    await page.goto(`${suite.server.baseUrl}/runs`);
    await page.getByLabel('Status').selectOption('success');
    await page.waitForURL('**/runs?status=success');
    // Every run listed has the status chosen (and at least one is listed).
    const onlyListed = async (status: string) => {
      const listed = await page.locator('.rows .row .status').allTextContents();
      return listed.length > 0 && listed.every((s) => s.startsWith(status));
    };
    await expect.poll(() => onlyListed('success'), { timeout: 30_000 }).toBe(true);
    await page.getByLabel('Status').selectOption('waiting');
    await expect.poll(() => onlyListed('waiting'), { timeout: 30_000 }).toBe(true);
    expect(suite.browser.problems).toEqual([]);
  });
});

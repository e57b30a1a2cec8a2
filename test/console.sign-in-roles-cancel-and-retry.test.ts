/**
 * The console with tokens and the lifecycle verbs, in Debian's Chromium: sign in with a token,
 * a wrong token, a viewer (`GET /api/me`, 401/403, SPEC §10); cancel and retry (SPEC §9).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { signInWithoutToken } from './support/browser.js';
import { call, waitingRun } from './support/console-fixtures.js';
import { useConsoleServer } from './support/console-server.js';

async function signInWithToken(page: Page, baseUrl: string, token: string, { refused = false } = {}): Promise<void> {
  await page.goto(baseUrl);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Signed in (the session is saved for the tab) once Sign out is offered; a navigation before that starts signed out.
  if (!refused) await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

const ACTIONS = ['Attest', 'Resume', 'Cancel run', 'Retry'];

describe('console sign-in and roles, with tokens', { timeout: 90_000 }, () => {
  let admin: string;
  const tokens: Record<'viewer' | 'operator', string> = { viewer: '', operator: '' };
  const suite = useConsoleServer('stepgate-console-auth-', {}, async ({ work, server }) => {
    admin = readFileSync(join(work, '.stepgate', 'admin-token'), 'utf8').trim();
    for (const role of ['viewer', 'operator'] as const) {
      const created = await call(server.baseUrl, admin, 'POST', '/api/tokens', { name: `ana-${role}`, role });
      expect(created.status).toBe(201);
      tokens[role] = created.body.token;
    }
  });

  it('refuses a wrong token with an error and shows no data', async () => {
    const page = await suite.browser.newPage();
    await signInWithToken(page, suite.server.baseUrl, 'not-a-token', { refused: true });
    await page.getByRole('alert').filter({ hasText: '401' }).waitFor();
    expect(await page.getByRole('heading', { name: 'Inbox' }).count()).toBe(0);
    // Browser-side expressions are strings: this file is type-checked for Node, without the DOM.
    expect(await page.evaluate<string>('JSON.stringify(sessionStorage)')).not.toContain('not-a-token');
    expect(await page.evaluate<string>('JSON.stringify(localStorage)')).toBe('{}');
    expect(page.url()).not.toContain('token');
    expect(suite.browser.problems).toEqual([expect.stringContaining('status of 401')]);
  });

  it('offers a viewer no action at all', async () => {
    const { runId } = await waitingRun(suite.server.baseUrl, admin);
    const page = await suite.browser.newPage();
    await signInWithToken(page, suite.server.baseUrl, tokens.viewer);
    await page.getByText('ana-viewer · viewer').waitFor();
    await page.goto(`${suite.server.baseUrl}/runs/${runId}`);
    await page.getByRole('group', { name: "The run's steps as a graph" }).waitFor();
    await page.getByRole('heading', { name: /Step B/ }).waitFor();
    for (const name of ACTIONS) expect(await page.getByRole('button', { name, exact: true }).count(), name).toBe(0);
    expect(suite.browser.problems).toEqual([]);
  });

  it("records the operator's token name as who attested, sends the token in a header only, and signs out", async () => {
    const { runId } = await waitingRun(suite.server.baseUrl, admin);
    const page = await suite.browser.newPage();
    const urls: string[] = [];
    page.on('request', (request) => urls.push(request.url()));
    await signInWithToken(page, suite.server.baseUrl, tokens.operator);
    await page.goto(`${suite.server.baseUrl}/runs/${runId}`);
    await page.getByLabel('Outcome').selectOption('FAIL');
    await page.getByRole('button', { name: 'Attest' }).click();
    await page.getByRole('status').filter({ hasText: 'Attested B: FAIL' }).waitFor();
    const run = await call(suite.server.baseUrl, admin, 'GET', `/api/runs/${runId}`);
    expect(run.body.step_runs[1].attestation.attested_by).toBe('ana-operator');
    expect(urls.some((url) => url.includes(tokens.operator))).toBe(false);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate<string>('JSON.stringify(sessionStorage)')).not.toContain(tokens.operator);
  });
});

describe('console lifecycle actions', { timeout: 90_000 }, () => {
  const suite = useConsoleServer('stepgate-console-live-', { STEPGATE_AUTH: 'off' });

  it('cancels a waiting run after a confirmation and shows the result', async () => {
    const { runId } = await waitingRun(suite.server.baseUrl, undefined);
    const page = await suite.browser.newPage();
    await signInWithoutToken(page, suite.server.baseUrl, 'ana');
    await page.goto(`${suite.server.baseUrl}/runs/${runId}`);
    await page.getByRole('button', { name: 'Cancel run' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel run?' });
    await dialog.getByRole('button', { name: 'Cancel run' }).click();
    await page.getByRole('status').filter({ hasText: 'Run cancelled: the run is now cancelled.' }).waitFor();
    expect((await call(suite.server.baseUrl, undefined, 'GET', `/api/runs/${runId}`)).body.status).toBe('cancelled');
    // The page reloads the run after the notice (and again on the live event): the action goes once it has.
    await expect.poll(() => page.getByRole('button', { name: 'Cancel run', exact: true }).count(), { timeout: 15_000 }).toBe(0);
    expect(suite.browser.problems).toEqual([]);
  });

  it('retries a run whose compute step failed: a new attempt waits', async () => {
    const { runId, stepRunId } = await waitingRun(suite.server.baseUrl, undefined);
    const failed = await call(suite.server.baseUrl, undefined, 'POST', `/api/runs/${runId}/steps/${stepRunId}/attest`, { outcome: 'FAIL', attested_by: 'ana', artifacts: [] });
    expect(failed.body.status).toBe('error');
    const page = await suite.browser.newPage();
    await signInWithoutToken(page, suite.server.baseUrl, 'ana');
    await page.goto(`${suite.server.baseUrl}/runs/${runId}`);
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.getByRole('dialog', { name: 'Retry?' }).getByRole('button', { name: 'Retry' }).click();
    await page.getByRole('status').filter({ hasText: 'Retried: the run waits again, on B.' }).waitFor();
    await page.getByRole('button', { name: 'Attest' }).waitFor();
    const run = (await call(suite.server.baseUrl, undefined, 'GET', `/api/runs/${runId}`)).body;
    expect(run.step_runs.filter((s: { step_key: string }) => s.step_key === 'B').map((s: { attempt: number; status: string }) => [s.attempt, s.status])).toEqual([
      [1, 'FAIL'],
      [2, 'WAITING_FOR_ATTESTATION'],
    ]);
    expect(suite.browser.problems).toEqual([]);
  });

});

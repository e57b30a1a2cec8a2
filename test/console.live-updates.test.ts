/**
 * The console lives on `GET /api/events` (SPEC §12, §14): pages change when someone else acts,
 * without a reload.
 */
import { describe, expect, it } from 'vitest';
import { signInWithoutToken } from './support/browser.js';
import { call, waitingRun } from './support/console-fixtures.js';
import { useConsoleServer } from './support/console-server.js';

describe('console lifecycle actions and live updates', { timeout: 90_000 }, () => {
  const suite = useConsoleServer('stepgate-console-live-', { STEPGATE_AUTH: 'off' });

  it('updates the inbox and the run page live when someone else attests and resumes', async () => {
    const { runId, stepRunId } = await waitingRun(suite.server.baseUrl, undefined);
    const page = await suite.browser.newPage();
    await signInWithoutToken(page, suite.server.baseUrl, 'ana');
    await page.getByText('● live').waitFor();
    const item = page.getByRole('listitem', { name: new RegExp(`Step B of run ${runId.slice(0, 8)}`) });
    await item.waitFor();
    // A marker that a reload would wipe: the page must change without one.
    await page.evaluate('window.notReloaded = true');
    const notReloaded = () => page.evaluate<boolean>('window.notReloaded === true');
    // Another operator attests with curl: the wait leaves the inbox, the run is ready to resume.
    const artifacts = ['forecast_csv', 'workbook'].map((name) => ({ name, uri: `s3://bucket/${name}`, sha256: 'c'.repeat(64), bytes: 1 }));
    expect((await call(suite.server.baseUrl, undefined, 'POST', `/api/runs/${runId}/steps/${stepRunId}/attest`, { outcome: 'SUCCESS', attested_by: 'bo', artifacts })).status).toBe(201);
    await item.waitFor({ state: 'detached' });
    const ready = page.getByRole('link', { name: `Run ${runId.slice(0, 8)}` });
    await ready.waitFor();
    await ready.click();
    await page.getByRole('group', { name: "The run's steps as a graph" }).waitFor();
    // … and resumes it: the run page turns every step to success.
    expect((await call(suite.server.baseUrl, undefined, 'POST', `/api/runs/${runId}/resume`)).body.status).toBe('success');
    await expect.poll(() => page.locator('.dag-node.status-success').count(), { timeout: 30_000 }).toBe(3);
    // The history is the run's recorded events, in the order they committed, live too.
    const history = page.getByRole('region', { name: 'History' });
    await expect.poll(() => history.textContent(), { timeout: 30_000 }).toContain('Run succeeded');
    const lines = await history.getByRole('listitem').allTextContents();
    const order = ['Run started', 'A started', 'A succeeded', 'B waits for an attestation', 'Run waits for attestations', 'B attested SUCCESS by bo', 'Run resumed', 'C started', 'C succeeded', 'Run succeeded'];
    expect(order.map((text) => lines.findIndex((line) => line.endsWith(text)))).toEqual(order.map((_, i) => i));
    expect(await notReloaded()).toBe(true);
    expect(suite.browser.problems).toEqual([]);
  });
});

/**
 * The console pages the runs list by cursor (issue 25): the first 50 runs, then "Older runs"
 * appends the next page from the list's next_cursor, and live updates keep what was loaded.
 */
import { describe, expect, it } from 'vitest';
import { signInWithoutToken } from './support/browser.js';
import { call } from './support/console-fixtures.js';
import { useConsoleServer } from './support/console-server.js';

describe('console runs page', { timeout: 120_000 }, () => {
  const suite = useConsoleServer('stepgate-console-pages-', { STEPGATE_AUTH: 'off' });

  it('shows the newest 50 runs, and the older ones a page at a time', async () => {
    const base = suite.server.baseUrl;
    const manifest = (await call(base, undefined, 'POST', '/api/manifests', { name: 'quick', steps: [{ key: 'A', prompt: 'a' }] })).body;
    const ids: string[] = [];
    for (let i = 0; i < 53; i++) ids.unshift((await call(base, undefined, 'POST', '/api/runs', { manifest_id: manifest.id, inputs: {} })).body.id);
    const page = await suite.browser.newPage();
    await signInWithoutToken(page, base, 'ana');
    await page.goto(`${base}/runs`);
    const rows = page.locator('ul.rows > li');
    await expect.poll(() => rows.count()).toBe(50);
    const link = (id: string) => page.getByRole('link', { name: `Run ${id.slice(0, 8)}` });
    expect(await link(ids[0]!).count()).toBe(1);
    expect(await link(ids[52]!).count()).toBe(0);
    await page.getByRole('button', { name: 'Older runs' }).click();
    await expect.poll(() => rows.count()).toBe(53);
    expect(await link(ids[52]!).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Older runs' }).count()).toBe(0);
    // A new run arrives live: on top, and the older page stays loaded.
    const newest = (await call(base, undefined, 'POST', '/api/runs', { manifest_id: manifest.id, inputs: {} })).body.id as string;
    await link(newest).waitFor();
    await expect.poll(() => rows.count()).toBe(54);
    expect(suite.browser.problems).toEqual([]);
  });
});

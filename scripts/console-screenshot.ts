/**
 * Takes the README's screenshot of the console (docs/console.png): a real server (the build,
 * as `npm start` runs it) on a scratch data directory, a run of examples/quarterly-forecast
 * waiting at its compute step B, and the run page in Debian's Chromium with a file hashed in
 * the attest form. `npm run screenshot:console` (after `npm run build`).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, signInWithoutToken } from '../test/support/browser.js';
import { ROOT } from '../test/support/cli.js';
import { api, startServer } from '../test/support/server-process.js';

const work = mkdtempSync(join(tmpdir(), 'stepgate-screenshot-'));
const server = await startServer({ STEPGATE_DATA_DIR: join(work, '.stepgate'), STEPGATE_AUTH: 'off' }, { built: true, startTimeoutMs: 120_000 });
try {
  const manifest = readFileSync(join(ROOT, 'examples', 'quarterly-forecast.yaml'), 'utf8');
  const stored = await fetch(`${server.baseUrl}/api/manifests`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: manifest }).then((r) => r.json() as Promise<{ id: string }>);
  const run = await api(server.baseUrl, 'POST', '/api/runs', { manifest_id: stored.id, inputs: { region: 'EMEA' } });
  const csv = join(work, 'forecast.csv');
  writeFileSync(csv, 'quarter,revenue\nQ3,1200\nQ4,1350\n');

  const browser = await launchBrowser(server.baseUrl);
  try {
    const page = await browser.newPage({ width: 1200, height: 1000 });
    await signInWithoutToken(page, server.baseUrl, 'ana');
    await page.goto(`${server.baseUrl}/runs/${run.body.id}`);
    await page.getByLabel('Notes').fill('Q3 workbook with the assumptions of step A');
    const output = (await page.locator('[id^="file-"]').first().getAttribute('id'))!.slice('file-'.length);
    await page.getByLabel(`File for ${output}`).setInputFiles(csv);
    await page.getByLabel(`URI for ${output}`).fill(`s3://forecasts/2026/q3/${output}.csv`);
    await page.getByText('sha256').first().waitFor();
    await page.evaluate('document.activeElement?.blur(); window.scrollTo(0, 0)');
    await page.screenshot({ path: join(ROOT, 'docs', 'console.png'), fullPage: true, clip: { x: 0, y: 0, width: 1200, height: 1480 } });
    if (browser.problems.length > 0) throw new Error(browser.problems.join('\n'));
    console.log('wrote docs/console.png');
  } finally {
    await browser.close();
  }
} finally {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}

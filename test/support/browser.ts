import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from './cli.js';

/**
 * Debian's Chromium (`apt-get install -y chromium`; .ci/run installs it), driven by
 * playwright-core. Never a downloaded browser. Missing, the browser tests fail with the fix.
 */
export const CHROMIUM = process.env.STEPGATE_TEST_CHROMIUM ?? '/usr/bin/chromium';
export const RESULTS_DIR = join(ROOT, 'test-results');

export function requireConsoleAndChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`The browser tests need Debian's Chromium at ${CHROMIUM}: run \`apt-get update && apt-get install -y chromium\` (.ci/run does it).`);
  }
  if (!existsSync(join(ROOT, 'dist', 'console', 'index.html'))) {
    throw new Error('The console is not built (dist/console/index.html is missing): run `npm run build`.');
  }
}

export interface Browser {
  readonly context: BrowserContext;
  /** Console errors, uncaught exceptions and requests to another origin, as they happened. */
  readonly problems: string[];
  newPage(options?: { width?: number; height?: number }): Promise<Page>;
  /** Screenshots of every open page into test-results/, to see what a failed test saw. */
  screenshotOnFailure(testName: string): Promise<void>;
  /** Closes every tab, so that each test starts with one of its own. */
  closePages(): Promise<void>;
  close(): Promise<void>;
}

/** A fresh profile each time (launchPersistentContext with a new directory), headless. */
export async function launchBrowser(baseUrl: string): Promise<Browser> {
  requireConsoleAndChromium();
  const profile = mkdtempSync(join(tmpdir(), 'stepgate-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    timeout: 60_000,
  });
  const problems: string[] = [];
  const origin = new URL(baseUrl).origin;
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    problems.push(`request to another origin: ${url}`);
    return route.abort();
  });
  const watch = (page: Page) => {
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error on ${page.url()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`uncaught on ${page.url()}: ${error.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return {
    context,
    problems,
    async newPage(options = {}) {
      const page = context.pages().find((p) => p.url() === 'about:blank') ?? (await context.newPage());
      await page.setViewportSize({ width: options.width ?? 1280, height: options.height ?? 900 });
      return page;
    },
    async screenshotOnFailure(name) {
      mkdirSync(RESULTS_DIR, { recursive: true });
      const pages = context.pages();
      for (const [i, page] of pages.entries()) {
        await page.screenshot({ path: join(RESULTS_DIR, `failed-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 80)}-${i}.png`), fullPage: true }).catch(() => {});
      }
    },
    async closePages() {
      for (const page of context.pages()) await page.close().catch(() => {});
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Signs in on a server with authentication off: no token, the operator's name. */
export async function signInWithoutToken(page: Page, baseUrl: string, name: string): Promise<void> {
  await page.goto(baseUrl);
  await page.getByLabel('Your name (only used when authentication is off)').fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Signed in (the session is saved) once the header names who, and that authentication is off.
  await page.getByText(`${name} · authentication is off`).waitFor();
}

import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'stepgate-ci-'));
function summarize(assertions: Array<{ fullName: string; status: string }>, ...flags: string[]) {
  const file = join(dir, `${Math.random()}.json`);
  writeFileSync(file, JSON.stringify({ testResults: [{ status: 'passed', assertionResults: assertions }] }));
  return spawnSync(process.execPath, [join(ROOT, 'scripts/ci-summary.mjs'), file, ...flags], { encoding: 'utf8' });
}

it('fails CI when the PostgreSQL suite did not run', () => {
  const result = summarize([{ fullName: '[pglite] manifests stores one', status: 'passed' }, { fullName: '[postgres] manifests stores one', status: 'skipped' }], '--require-postgres');
  expect(result.stdout).toContain('1 passed, 0 failed');
  expect(result.stderr).toContain('the PostgreSQL suite did not run');
  expect(result.status).toBe(1);
});

it('passes CI when both suites passed, and fails it when a test failed', () => {
  const ok = summarize([{ fullName: '[pglite] a', status: 'passed' }, { fullName: '[postgres] a', status: 'passed' }], '--require-postgres');
  expect(ok.stdout).toContain('2 passed, 0 failed');
  expect(ok.status).toBe(0);
  const bad = summarize([{ fullName: '[pglite] a', status: 'failed' }, { fullName: '[postgres] a', status: 'passed' }], '--require-postgres');
  expect(bad.stdout).toContain('1 passed, 1 failed');
  expect(bad.status).toBe(1);
});

it('counts the reports of several runs together, and fails CI when one of them failed or skipped PostgreSQL', () => {
  const write = (assertions: Array<{ fullName: string; status: string }>) => {
    const file = join(dir, `${Math.random()}.json`);
    writeFileSync(file, JSON.stringify({ testResults: [{ status: 'passed', assertionResults: assertions }] }));
    return file;
  };
  const run = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'scripts/ci-summary.mjs'), '--require-postgres', ...args], { encoding: 'utf8' });
  const good = write([{ fullName: '[pglite] a', status: 'passed' }, { fullName: '[postgres] a', status: 'passed' }]);
  const both = run(`node20=${good}`, `node26=${good}`);
  expect(both.stdout).toContain('4 passed, 0 failed');
  expect(both.stdout).toContain('(node26: 2 passed, 0 failed; 0 skipped; 1 PostgreSQL tests passed, 1 PGlite contract tests)');
  expect(both.status).toBe(0);

  const failing = write([{ fullName: '[pglite] a', status: 'failed' }, { fullName: '[postgres] a', status: 'passed' }]);
  const oneFailed = run(`node20=${good}`, `node26=${failing}`);
  expect(oneFailed.stdout).toContain('3 passed, 1 failed');
  expect(oneFailed.status).toBe(1);

  const noPostgres = write([{ fullName: '[pglite] a', status: 'passed' }, { fullName: '[postgres] a', status: 'skipped' }]);
  const skipped = run(`node20=${good}`, `node26=${noPostgres}`);
  expect(skipped.stdout).toContain('3 passed, 0 failed');
  expect(skipped.stderr).toContain('node26: the PostgreSQL suite did not run');
  expect(skipped.status).toBe(1);
});

// Reads Vitest's JSON reports and prints the plain "N passed, N failed" line CI recognises.
// Several reports (one per Node version) are counted together, each also on its own line:
// `ci-summary.mjs [--require-postgres] [LABEL=]REPORT.json...`. Exits non-zero when a test
// failed in any report, when a report ran nothing, or when `--require-postgres` is given
// and no PostgreSQL test ("[postgres]" in its name) passed in one of them: a skipped
// PostgreSQL suite is a failure, not a pass.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const requirePostgres = args.includes('--require-postgres');
const reports = args.filter((arg) => !arg.startsWith('--'));
if (reports.length === 0) {
  console.error('usage: ci-summary.mjs [--require-postgres] [LABEL=]REPORT.json...');
  process.exit(2);
}

const totals = { passed: 0, failed: 0 };
const problems = [];
const lines = [];
for (const arg of reports) {
  const match = /^([^=/]+)=(.+)$/.exec(arg);
  const [label, file] = match ? [match[1], match[2]] : [arg, arg];
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    console.error(`ci-summary: cannot read the test report ${file}: ${err.message}`);
    process.exit(1);
  }
  const files = report.testResults ?? [];
  const assertions = files.flatMap((result) => result.assertionResults ?? []);
  const count = (status) => assertions.filter((a) => a.status === status).length;
  const passed = count('passed');
  // A file that failed before any test ran (an import error, a failing hook) counts as one failure.
  const failed = count('failed') + files.filter((f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0).length;
  const skipped = assertions.length - passed - count('failed');
  const postgresPassed = assertions.filter((a) => a.status === 'passed' && a.fullName.includes('[postgres]')).length;
  const pglitePassed = assertions.filter((a) => a.status === 'passed' && a.fullName.includes('[pglite]')).length;
  totals.passed += passed;
  totals.failed += failed;
  lines.push(`(${reports.length > 1 ? `${label}: ${passed} passed, ${failed} failed; ` : ''}${skipped} skipped; ${postgresPassed} PostgreSQL tests passed, ${pglitePassed} PGlite contract tests)`);
  if (passed === 0) problems.push(`${label}: no test passed`);
  if (requirePostgres && postgresPassed === 0) {
    problems.push(`${label}: the PostgreSQL suite did not run (on the embedded PostgreSQL server, or the server of TEST_DATABASE_URL when set): see why in its output.`);
  }
}

console.log(`${totals.passed} passed, ${totals.failed} failed`);
for (const line of lines) console.log(line);
for (const problem of problems) console.error(`ci-summary: ${problem}`);
if (totals.failed > 0 || problems.length > 0) process.exit(1);

// Reads Vitest's JSON report and prints the plain "N passed, N failed" line CI recognises.
// Exits non-zero when a test failed, when nothing ran, or when `--require-postgres` is given
// and no PostgreSQL test ("[postgres]" in its name) passed: a skipped PostgreSQL suite is a
// failure, not a pass.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const requirePostgres = args.includes('--require-postgres');
const file = args.find((arg) => !arg.startsWith('--'));
if (!file) {
  console.error('usage: ci-summary.mjs REPORT.json [--require-postgres]');
  process.exit(2);
}

let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`ci-summary: cannot read the test report ${file}: ${err.message}`);
  process.exit(1);
}
const assertions = (report.testResults ?? []).flatMap((file) => file.assertionResults ?? []);
const count = (status) => assertions.filter((a) => a.status === status).length;
const passed = count('passed');
const failed = count('failed') + (report.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0).length;
const skipped = assertions.length - passed - count('failed');
const postgresPassed = assertions.filter((a) => a.status === 'passed' && a.fullName.includes('[postgres]')).length;

console.log(`${passed} passed, ${failed} failed`);
console.log(`(${skipped} skipped; ${postgresPassed} PostgreSQL tests passed)`);
if (failed > 0 || passed === 0) process.exit(1);
if (requirePostgres && postgresPassed === 0) {
  console.error('ci-summary: the PostgreSQL suite did not run. Set TEST_DATABASE_URL to a reachable server.');
  process.exit(1);
}

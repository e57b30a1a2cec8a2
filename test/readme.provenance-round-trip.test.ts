import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { ROOT } from './support/cli.js';
import { withDatabase } from './support/global-setup.js';
import { adminQuery, TEST_DB_PREFIX } from './support/postgres-admin.js';
import { startServer } from './support/server-process.js';
import { testPostgresUrl } from './support/test-postgres.js';

/** The embedded default, and a PostgreSQL server through DATABASE_URL (the suites' server: TEST_DATABASE_URL, else the embedded one). */
const databases: Array<{ name: string; env(work: string): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }> }> = [
  { name: 'pglite', env: async (work) => ({ env: { STEPGATE_DATA_DIR: join(work, '.stepgate') }, cleanup: async () => {} }) },
];
const url = testPostgresUrl();
databases.push({
  name: 'postgres',
  async env(work) {
    const name = `${TEST_DB_PREFIX}${randomBytes(6).toString('hex')}`;
    await adminQuery(url, `CREATE DATABASE ${name}`);
    // The server writes its first admin token under STEPGATE_DATA_DIR on PostgreSQL too; the CLI, run from `work`, reads it there.
    return { env: { DATABASE_URL: withDatabase(url, name), STEPGATE_DATA_DIR: join(work, '.stepgate') }, cleanup: () => adminQuery(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
  },
});

/** The README's provenance round trip, run as written: attest → export → verify → tamper → verify fails. */
for (const database of databases) it(`[${database.name}] runs the README provenance round trip: verified, then exit 8 for a changed file and exit 7 for a forged statement`, { timeout: 480_000 }, async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = /<!-- provenance:start -->\s*```sh\n([\s\S]*?)```\s*<!-- provenance:end -->/.exec(readme);
  expect(section, 'README.md has a provenance block').not.toBeNull();
  const work = mkdtempSync(join(tmpdir(), 'stepgate-provenance-'));
  cpSync(join(ROOT, 'examples'), join(work, 'examples'), { recursive: true });
  // As the README says: STEPGATE_ARTIFACT_ROOTS=$PWD npm start, from the directory the commands run in.
  const { env, cleanup } = await database.env(work);
  const server = await startServer({ ...env, STEPGATE_ARTIFACT_ROOTS: work }, { timeoutMs: 120_000 });
  try {
    const script = section![1]!.replaceAll('npx stepgate', `node ${join(ROOT, 'bin/stepgate.js')}`);
    const result = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: work, encoding: 'utf8', env: { ...process.env, STEPGATE_URL: server.baseUrl } });
    expect(result.status, result.stderr).toBe(0);
    const out = result.stdout;
    expect(out).toContain('24 bytes (verified by the server)');
    expect(out).toContain('1 signed attestation');
    expect(out).toMatch(/forecast\.csv: matches subject forecast_csv \(sha256 [0-9a-f]{64}, 24 bytes\)\nVerified: 1 signature, 1 file\./);
    expect(out).toMatch(/forecast\.csv: DIFFERS from subject forecast_csv[^\n]*\nNot verified: a file differs from the statement\.\nexit 8\n/);
    expect(out).toMatch(/SIGNATURE BAD[^\n]*attested by eve[^\n]*\nNot verified: a signature does not verify\.\nexit 7\n?$/);
  } finally {
    await server.stop();
    await cleanup();
    rmSync(work, { recursive: true, force: true });
  }
});

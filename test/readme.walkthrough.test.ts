import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from './support/cli.js';
import { createHash } from 'node:crypto';
import { startServer, type ServerProcess } from './support/server-process.js';
import { emptyDataDir } from './support/data-dir.js';

/** A new user's project directory with the examples (open to others: run as root, the embedded PostgreSQL runs as the postgres user). */
function newUserDirectory(prefix: string): string {
  const work = emptyDataDir(prefix);
  cpSync(join(ROOT, 'examples'), join(work, 'examples'), { recursive: true });
  return work;
}

/** The server as `npm start` runs it: the embedded default, which must be PostgreSQL's own server. */
async function startAsNpmStart(work: string): Promise<ServerProcess> {
  const server = await startServer({ STEPGATE_DATA_DIR: join(work, '.stepgate'), STEPGATE_EMBEDDED: undefined });
  expect(server.output()).toMatch(/is serving http:\/\/\S+ on embedded PostgreSQL in /);
  return server;
}

/** The README's curl walkthrough, run as written against a real server (STEPGATE_URL says where). */
it('runs the README walkthrough of A → B → C to a successful run', { timeout: 300_000 }, async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = /<!-- walkthrough:start -->\s*```sh\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(readme);
  expect(section, 'README.md has a walkthrough block').not.toBeNull();
  const work = newUserDirectory('stepgate-readme-');
  const server = await startAsNpmStart(work);
  try {
    const script = section![1]!;
    expect(script).not.toMatch(/127\.0\.0\.1|localhost|:8080/); // the address comes from STEPGATE_URL only
    const result = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: work, encoding: 'utf8', env: { ...process.env, STEPGATE_URL: server.baseUrl, STEPGATE_TOKEN: undefined } });
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    const resumed = JSON.parse(lines.at(-1)!);
    expect(resumed.status).toBe('success');
    expect(resumed.step_runs.map((s: { step_key: string; status: string }) => `${s.step_key}:${s.status}`)).toEqual(['A:SUCCESS', 'B:SUCCESS', 'C:SUCCESS']);
    const digest = spawnSync('sha256sum', ['forecast.csv'], { cwd: work, encoding: 'utf8' }).stdout.split(' ')[0];
    const b = resumed.step_runs[1];
    expect(b.attestation).toMatchObject({ attested_by: 'admin', attested_by_verified: true }); // the bootstrap token's name
    expect(b.attestation.artifacts[0]).toMatchObject({ name: 'forecast_csv', sha256: digest, bytes: 24, uri: `file://${work}/forecast.csv` });
    expect(resumed.step_runs[2].output).toBe(`[offline:echo] Write a memo about file://${work}/forecast.csv.`);
    expect(JSON.parse(lines[0]!).status).toBe('waiting');
    expect(existsSync(join(work, 'forecast.csv'))).toBe(true);
    // The server's output is its log: JSON lines only, each request's lines with its id.
    // (spawnSync blocked this process: let the log lines it could not read arrive.)
    const completed = () => server.output().split('\n').filter((line) => line.includes('"request completed"')).length;
    for (let waited = 0; completed() < 6 && waited < 10_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
    const logLines = server.output().trim().split('\n');
    const entries = logLines.map((line) => {
      expect(() => JSON.parse(line), line).not.toThrow();
      return JSON.parse(line) as { msg: string; request_id?: string; req?: unknown };
    });
    expect(entries.some((entry) => entry.msg.startsWith('stepgate is serving http://'))).toBe(true);
    const requestLines = entries.filter((entry) => entry.req !== undefined);
    expect(requestLines.length).toBeGreaterThanOrEqual(6);
    for (const entry of requestLines) expect(entry.request_id).toMatch(/^[0-9a-f-]{36}$/);
  } finally {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
});

it("runs the README's CLI quick start to a successful run whose stored digest is sha256sum's", { timeout: 300_000 }, async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = /<!-- cli-quickstart:start -->\s*```sh\n([\s\S]*?)```\s*<!-- cli-quickstart:end -->/.exec(readme);
  expect(section, 'README.md has a CLI quick start block').not.toBeNull();
  const work = newUserDirectory('stepgate-quickstart-');
  const server = await startAsNpmStart(work);
  try {
    // `npx stepgate` resolves to the checkout's bin; the temp directory has no package.json.
    const script = section![1]!.replaceAll('npx stepgate', `node ${join(ROOT, 'bin/stepgate.js')}`);
    const result = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: work, encoding: 'utf8', env: { ...process.env, STEPGATE_URL: server.baseUrl, STEPGATE_TOKEN: undefined, STEPGATE_DATA_DIR: undefined } });
    expect(result.status, result.stderr).toBe(0);
    const digest = createHash('sha256').update(readFileSync(join(work, 'forecast.csv'))).digest('hex');
    expect(result.stdout).toContain('examples/quarterly-forecast.yaml: valid');
    expect(result.stdout).toMatch(/Run [0-9a-f-]{36} status: waiting/);
    expect(result.stdout).toMatch(/stepgate attest [0-9a-f-]{36} B --outcome SUCCESS --artifact forecast_csv=PATH/);
    expect(result.stdout).toMatch(/Run [0-9a-f-]{36} status: success/);
    expect(result.stdout).toContain(`B.forecast_csv: file://${work}/forecast.csv sha256:${digest} 24 bytes`);
    expect(result.stdout.trim().split('\n').at(-1)).toBe(`${digest}  forecast.csv`);
  } finally {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
});

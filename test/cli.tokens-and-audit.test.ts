import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { startServer, type ServerProcess } from './support/server-process.js';
import { migratedDataDir } from './support/data-dir.js';

describe('stepgate token and stepgate audit against a real server', { timeout: 300_000 }, () => {
  let server: ServerProcess;
  let work: string;
  /** As the admin (the bootstrap token in the data directory), or as the given token. */
  const cli = (args: string[], token?: string) =>
    runCli(args, { STEPGATE_URL: server.baseUrl, STEPGATE_DATA_DIR: join(work, 'data'), STEPGATE_TOKEN: token });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'stepgate-cli-tokens-'));
    server = await startServer({ STEPGATE_DATA_DIR: migratedDataDir(join(work, 'data')) });
  }, 180_000);
  afterAll(async () => {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('creates, lists and revokes tokens; maps 401 and 403 to exit code 6 with a clear message; shows the audit log', async () => {
    const created = await cli(['token', 'create', '--name', 'ana', '--role', 'operator', '--expires', '90d']);
    expect(created.code, created.stderr).toBe(0);
    const token = created.stdout.trim().split('\n').at(-1)!;
    expect(token).toMatch(/^sg_[A-Za-z0-9_-]{43}$/);
    expect(created.stdout).toContain('It is shown this once');

    const listed = await cli(['token', 'list']);
    expect(listed.stdout).toMatch(/ana\s+operator\s+active/);
    expect(listed.stdout).not.toContain(token);

    const tooLow = await cli(['run', 'examples/quarterly-forecast.yaml', '--input', 'region=EMEA'], token);
    expect(tooLow.code).toBe(6);
    expect(tooLow.stderr).toContain('has the role operator; this needs author or above');

    const run = JSON.parse((await cli(['--json', 'run', 'examples/quarterly-forecast.yaml', '--input', 'region=EMEA'])).stdout);
    const spoofed = await cli(['attest', run.id, 'B', '--outcome', 'FAIL', '--by', 'bob'], token);
    expect(spoofed.code).toBe(2);
    expect(spoofed.stderr).toContain('the token attests as "ana", not "bob"');
    const attested = await cli(['attest', run.id, 'B', '--outcome', 'FAIL', '--notes', 'no data'], token);
    expect(attested.code, attested.stderr).toBe(0);
    expect(attested.stdout).toContain('Attested B FAIL as ana.');

    expect((await cli(['token', 'revoke', 'ana'])).code).toBe(0);
    const revoked = await cli(['runs'], token);
    expect(revoked.code).toBe(6);
    expect(revoked.stderr).toContain('revoked');
    expect(revoked.stderr).toContain('(the token came from STEPGATE_TOKEN)');

    const audit = JSON.parse((await cli(['--json', 'audit', '--actor', 'ana'])).stdout);
    expect(audit.items.map((e: { action: string; outcome: number }) => `${e.action} ${e.outcome}`)).toEqual([
      'POST /api/runs/:run_id/steps/:step_run_id/attest 201',
      'POST /api/runs/:run_id/steps/:step_run_id/attest 422',
      'POST /api/manifests 403',
    ]);
    const human = await cli(['audit', '--outcome', '403']);
    expect(human.stdout).toMatch(/ana\s+403 ROLE_TOO_LOW\s+POST \/api\/manifests/);
  });

  it('says where to find a token when it has none', async () => {
    const none = await runCli(['runs'], { STEPGATE_URL: server.baseUrl, STEPGATE_DATA_DIR: join(work, 'empty'), STEPGATE_TOKEN: undefined });
    expect(none.code).toBe(6);
    expect(none.stderr).toContain('no token: set STEPGATE_TOKEN');
  });
});

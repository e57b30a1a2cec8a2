import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { withDatabase } from './support/global-setup.js';
import { adminQuery, TEST_DB_PREFIX } from './support/postgres-admin.js';
import { api, startServer, type ServerProcess } from './support/server-process.js';
import { migratedDataDir } from './support/data-dir.js';
import { testPostgresUrl } from './support/test-postgres.js';

/** Both databases, as a real server process sees them. */
const targets: Array<{ name: string; setup(work: string): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }> }> = [
  { name: 'pglite', setup: async (work) => ({ env: { STEPGATE_DATA_DIR: migratedDataDir(join(work, 'data')) }, cleanup: async () => {} }) },
];
const url = testPostgresUrl();
targets.push({
  name: 'postgres',
  async setup() {
    const name = `${TEST_DB_PREFIX}${randomBytes(6).toString('hex')}`;
    await adminQuery(url, `CREATE DATABASE ${name}`);
    return { env: { DATABASE_URL: withDatabase(url, name) }, cleanup: () => adminQuery(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
  },
});

for (const target of targets) {
  describe(`[${target.name}] stepgate provenance and stepgate verify`, () => {
    let work: string;
    let server: ServerProcess;
    let cleanup: () => Promise<void>;
    // Authentication off (this suite is about provenance): the attester is STEPGATE_OPERATOR, and
    // the CLI must not find some other server's admin token.
    const cli = (...args: string[]) => runCli(args, { STEPGATE_URL: server.baseUrl, STEPGATE_OPERATOR: 'ana', STEPGATE_TOKEN: undefined, STEPGATE_DATA_DIR: join(work, 'cli') });

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), 'stepgate-verify-'));
      let env: Record<string, string>;
      ({ env, cleanup } = await target.setup(work));
      server = await startServer({ ...env, STEPGATE_ARTIFACT_ROOTS: work, STEPGATE_AUTH: 'off' }, { timeoutMs: 120_000 });
    }, 150_000);
    afterAll(async () => {
      await server.stop();
      await cleanup();
      rmSync(work, { recursive: true, force: true });
    });

    // Each step runs the CLI as a process of its own: generous on a loaded machine.
    it('exports a run and verifies it: 0 verified, 7 signature bad or unsigned, 8 file differs; rotation keeps old envelopes verifiable', { timeout: 480_000 }, async () => {
      const started = await cli('--json', 'run', 'examples/quarterly-forecast.yaml', '--input', 'region=EMEA');
      expect(started.code, started.stderr).toBe(0);
      const run = JSON.parse(started.stdout) as { id: string };
      const forecast = join(work, 'forecast.csv');
      writeFileSync(forecast, 'quarter,revenue\nQ3,1200\n');
      const attested = await cli('attest', run.id, 'B', '--outcome', 'SUCCESS', '--artifact', `forecast_csv=${forecast}`);
      expect(attested.code, attested.stderr).toBe(0);
      expect(attested.stdout).toContain('24 bytes (verified by the server)');
      const status = await cli('status', run.id);
      expect(status.stdout).toContain('bytes (verified by the server)');

      const audit = join(work, 'audit');
      const exported = await cli('provenance', run.id, '--out', audit);
      expect(exported.code, exported.stderr).toBe(0);
      expect(exported.stdout).toContain('1 signed attestation');
      for (const file of ['B.attempt-1.intoto.json', 'bundle.intoto.jsonl', 'keys.json', 'README.md']) expect(existsSync(join(audit, file)), file).toBe(true);
      expect(readFileSync(join(audit, 'README.md'), 'utf8')).toContain('stepgate verify B.attempt-1.intoto.json --key keys.json');
      const envelopePath = join(audit, 'B.attempt-1.intoto.json');

      // Verified: against the server's keys, and offline against keys.json or a PEM key.
      const ok = await cli('verify', envelopePath, forecast);
      expect([ok.code, ok.stderr]).toEqual([0, '']);
      expect(ok.stdout).toMatch(/envelope: signature verified \(key [0-9a-f]{16}…\) — step B \(attempt 1\) of run [0-9a-f-]{36}, SUCCESS, attested by ana/);
      expect(ok.stdout).toMatch(/forecast\.csv: matches subject forecast_csv \(sha256 [0-9a-f]{64}, 24 bytes\)/);
      expect((await cli('verify', join(audit, 'bundle.intoto.jsonl'), `forecast_csv=${forecast}`, '--key', join(audit, 'keys.json'))).code).toBe(0);
      const keys = (await api(server.baseUrl, 'GET', '/api/keys')).body.keys as Array<{ public_key: string }>;
      writeFileSync(join(work, 'server.pem'), keys[0]!.public_key);
      expect((await cli('verify', envelopePath, '--key', join(work, 'server.pem'))).code).toBe(0);

      // Signature bad: one character of the statement changed, another key, or no signature at all.
      const envelope = JSON.parse(readFileSync(envelopePath, 'utf8'));
      const statement = Buffer.from(envelope.payload, 'base64').toString('utf8');
      const tampered = join(work, 'tampered.json');
      writeFileSync(tampered, JSON.stringify({ ...envelope, payload: Buffer.from(statement.replace('"ana"', '"eve"')).toString('base64') }));
      const bad = await cli('verify', tampered, forecast);
      expect(bad.code).toBe(7);
      expect(bad.stdout).toContain('envelope: SIGNATURE BAD: the signature does not match the payload');
      expect(bad.stdout).toContain('claims step B (attempt 1)');
      const stranger = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
      writeFileSync(join(work, 'stranger.pem'), stranger);
      const otherKey = await cli('verify', envelopePath, '--key', join(work, 'stranger.pem'));
      expect(otherKey.code).toBe(7);
      expect(otherKey.stdout).toMatch(/signed by key [0-9a-f]{64}, which is not among the 1 key\(s\) given/);
      const unsigned = join(work, 'unsigned.json');
      writeFileSync(unsigned, JSON.stringify((await api(server.baseUrl, 'GET', `/api/runs/${run.id}/steps/${envelope.payload ? JSON.parse(statement).predicate.step.step_run_id : ''}/provenance`)).body));
      const unsignedResult = await cli('verify', unsigned);
      expect(unsignedResult.code).toBe(7);
      expect(unsignedResult.stderr).toContain('is an unsigned statement');

      // File differs: the artifact changed after it was attested, or a file no subject names.
      writeFileSync(forecast, 'quarter,revenue\nQ3,9999\n');
      const differs = await cli('verify', envelopePath, forecast);
      expect(differs.code).toBe(8);
      expect(differs.stdout).toMatch(/forecast\.csv: DIFFERS from subject forecast_csv: the statement says sha256 [0-9a-f]{64}, 24 bytes; the file has sha256 [0-9a-f]{64}, 24 bytes/);
      writeFileSync(join(work, 'other.txt'), 'unrelated');
      const stray = await cli('--json', 'verify', envelopePath, join(work, 'other.txt'));
      expect(stray.code).toBe(8);
      expect(JSON.parse(stray.stdout)).toMatchObject({ verified: false, exit_code: 8, files: [{ result: 'not_in_statement' }] });

      // A rotation: new envelopes get the new key, the exported one still verifies against the server.
      const rotated = await cli('keys', 'rotate');
      expect(rotated.code, rotated.stderr).toBe(0);
      expect(rotated.stdout).toMatch(/New signing key [0-9a-f]{64} is active\.\nRetired [0-9a-f]{64}/);
      const listed = await cli('keys', 'list');
      expect(listed.stdout.trim().split('\n')).toHaveLength(3);
      const afterRotation = await cli('verify', envelopePath);
      expect(afterRotation.code).toBe(0);
      expect(afterRotation.stdout).toContain(', retired key)');
    });

    it('refuses what is not an envelope with exit 2, and unreachable keys with exit 5', { timeout: 120_000 }, async () => {
      writeFileSync(join(work, 'garbage.json'), '{"hello": "world"}');
      expect((await cli('verify', join(work, 'garbage.json'))).code).toBe(2);
      expect((await cli('verify', join(work, 'missing.json'))).code).toBe(2);
      const envelope = { payloadType: 'application/vnd.in-toto+json', payload: Buffer.from('{}').toString('base64'), signatures: [{ keyid: 'x', sig: 'AAAA' }] };
      writeFileSync(join(work, 'envelope.json'), JSON.stringify(envelope));
      const unreachable = await runCli(['verify', join(work, 'envelope.json')], { STEPGATE_URL: 'http://127.0.0.1:9', STEPGATE_TOKEN: undefined, STEPGATE_DATA_DIR: join(work, 'cli') });
      expect(unreachable.code).toBe(5);
      expect((await cli('provenance', '00000000-0000-4000-8000-000000000000')).code).toBe(4);
    });
  });
}

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../src/http/app.js';
import { buildApp } from '../src/http/app.js';
import { AUTH_OFF } from './support/app.js';
import { createFileRootVerifier } from '../src/providers/artifacts/file-roots.js';
import { createEngineDeps } from '../src/engine/create-deps.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';
import { sha256 } from './support/provenance.js';
import { attest, snapshot, startRun, stepOf, storeManifest } from './support/runs.js';
import type { Database } from '../src/storage/database.js';

const manifest = {
  name: 'digests',
  steps: [{ key: 'B', step_type: 'compute', compute_contract: { executor: 'lab', inputs: [], outputs: ['out'], verification: 'operator_attest' } }],
};

let dir: string;
let root: string;
const content = 'quarter,revenue\nQ3,1200\n';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stepgate-roots-'));
  root = join(dir, 'root');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'sub', 'forecast.csv'), content);
  writeFileSync(join(dir, 'outside.csv'), content);
  symlinkSync(join(dir, 'outside.csv'), join(root, 'escape.csv'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const appWithRoots = (database: Database, roots: string[]): Promise<App> =>
  buildApp(createEngineDeps({ db: database.db, providers: new Map(), defaultModel: 'offline:echo', leaseMs: 60_000, artifactVerifier: createFileRootVerifier(roots) }), { auth: AUTH_OFF });

async function attestOne(app: App, artifact: { uri: string; sha256?: string; bytes?: number }) {
  const run = await startRun(app, await storeManifest(app, manifest));
  const response = await attest(app, run.id, stepOf(run, 'B')!.id, {
    outcome: 'SUCCESS',
    attested_by: 'ana',
    artifacts: [{ name: 'out', sha256: sha256(content), bytes: Buffer.byteLength(content), ...artifact }],
  });
  return { run, response };
}

describeEachDriver('digest verification at attest time under STEPGATE_ARTIFACT_ROOTS', (ctx) => {
  it('records verified: true when the file under a root has the attested sha256 and size, in the run view and the provenance', async () => {
    const app = await appWithRoots(ctx.database, [root]);
    const { run, response } = await attestOne(app, { uri: pathToFileURL(join(root, 'sub', 'forecast.csv')).href });
    expect(response.statusCode, response.body).toBe(201);
    const artifact = stepOf(response.json(), 'B')!.attestation!.artifacts[0]!;
    expect(artifact).toMatchObject({ verified: true, verification: 'digest_matched' });
    const statement = (await app.inject({ method: 'GET', url: `/api/runs/${run.id}/steps/${stepOf(run, 'B')!.id}/provenance` })).json();
    expect(statement.predicate.artifacts[0]).toMatchObject({ verified: true, verification: 'digest_matched' });
  });

  it('refuses a wrong sha256 or a wrong size with a 422 naming the artifact, and stores nothing', async () => {
    const app = await appWithRoots(ctx.database, [root]);
    const uri = pathToFileURL(join(root, 'sub', 'forecast.csv')).href;
    const run = await startRun(app, await storeManifest(app, manifest));
    const before = await snapshot(ctx.database);
    const body = { outcome: 'SUCCESS', attested_by: 'ana' };
    const wrongDigest = await attest(app, run.id, stepOf(run, 'B')!.id, { ...body, artifacts: [{ name: 'out', uri, sha256: 'c'.repeat(64), bytes: 24 }] });
    const problem = expectProblem(wrongDigest, 422, 'ARTIFACT_MISMATCH');
    expect(problem.errors).toEqual([
      { path: 'artifacts[0].sha256', message: `artifact "out" (${uri}): the attestation says sha256 ${'c'.repeat(64)}, the file's sha256 is ${sha256(content)}` },
    ]);
    const wrongSize = await attest(app, run.id, stepOf(run, 'B')!.id, { ...body, artifacts: [{ name: 'out', uri, sha256: sha256(content), bytes: 25 }] });
    expect(expectProblem(wrongSize, 422, 'ARTIFACT_MISMATCH').errors).toEqual([
      { path: 'artifacts[0].bytes', message: `artifact "out" (${uri}): the attestation says 25 bytes, the file has 24` },
    ]);
    expect(await snapshot(ctx.database)).toEqual(before);
  });

  it('records every other artifact as not verified, with the reason', async () => {
    const app = await appWithRoots(ctx.database, [root]);
    const cases: Array<[string, string]> = [
      [pathToFileURL(join(dir, 'outside.csv')).href, 'outside_artifact_roots'],
      [pathToFileURL(join(root, 'escape.csv')).href, 'outside_artifact_roots'], // a symbolic link out of the root
      [`file://${root}/sub/../../outside.csv`, 'outside_artifact_roots'],
      [pathToFileURL(join(root, 'sub', 'absent.csv')).href, 'file_not_found'],
      [pathToFileURL(join(root, 'sub')).href, 'not_a_regular_file'],
      ['s3://bucket/forecast.csv', 'scheme_not_verified'],
      ['https://example.org/forecast.csv', 'scheme_not_verified'],
    ];
    for (const [uri, reason] of cases) {
      const { response } = await attestOne(app, { uri });
      expect(response.statusCode, `${uri}: ${response.body}`).toBe(201);
      expect(stepOf(response.json(), 'B')!.attestation!.artifacts[0], uri).toMatchObject({ verified: false, verification: reason });
    }
  });

  it('verifies nothing without roots, and says so', async () => {
    const app = await appWithRoots(ctx.database, []);
    const { response } = await attestOne(app, { uri: pathToFileURL(join(root, 'sub', 'forecast.csv')).href, sha256: 'd'.repeat(64) });
    expect(response.statusCode).toBe(201);
    expect(stepOf(response.json(), 'B')!.attestation!.artifacts[0]).toMatchObject({ verified: false, verification: 'no_artifact_roots' });
  });
});

import { expect, it } from 'vitest';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';
import { attest, DIGEST, snapshot, startRun, stepOf, storeManifest } from './support/runs.js';

const contract = { executor: 'lab', inputs: [], outputs: ['out'], verification: 'operator_attest' };
const body = (uri: string) => ({ outcome: 'SUCCESS', attested_by: 'ana', artifacts: [{ name: 'out', uri, sha256: DIGEST, bytes: 1 }] });

describeEachDriver('artifact URIs: an allow-list of schemes (STEPGATE_ARTIFACT_SCHEMES)', (ctx) => {
  it('refuses javascript:, data: and other schemes with 422 naming the artifact, and accepts the default ones', async () => {
    const app = await testApp(ctx.database);
    const id = await storeManifest(app, { name: 'uris', steps: [{ key: 'B', step_type: 'compute', compute_contract: contract }] });
    const run = await startRun(app, id);
    const b = stepOf(run, 'B')!.id;
    const before = await snapshot(ctx.database);
    for (const uri of ['javascript:alert(1)', 'data:text/html,<script>x</script>', 'JAVASCRIPT:alert(1)', 'vbscript:x', 'ftp://host/file']) {
      const problem = expectProblem(await attest(app, run.id, b, body(uri)), 422, 'REQUEST_INVALID');
      expect(problem.errors).toEqual([
        { path: 'artifacts[0].uri', message: expect.stringContaining('is not allowed: expected one of s3:, gs:, az:, https:, http:, file: (STEPGATE_ARTIFACT_SCHEMES)') as string },
      ]);
    }
    expect(await snapshot(ctx.database)).toEqual(before);
    expect((await attest(app, run.id, b, body('S3://bucket/key'))).statusCode).toBe(201);
  });

  it('follows a configured list', async () => {
    const app = await testApp(ctx.database, { artifactSchemes: ['ipfs'] });
    const id = await storeManifest(app, { name: 'uris-configured', steps: [{ key: 'B', step_type: 'compute', compute_contract: contract }] });
    const run = await startRun(app, id);
    const b = stepOf(run, 'B')!.id;
    expect(expectProblem(await attest(app, run.id, b, body('s3://bucket/key')), 422).errors![0]!.message).toContain('expected one of ipfs:');
    expect((await attest(app, run.id, b, body('ipfs://bafy/x'))).statusCode).toBe(201);
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { startServer, type ServerProcess } from './support/server-process.js';
import { migratedDataDir } from './support/data-dir.js';

describe('the stepgate CLI against a real server on PGlite', { timeout: 300_000 }, () => {
  let server: ServerProcess;
  let work: string;
  // The CLI finds the admin token the server's first start wrote to its data directory.
  const cli = (...args: string[]) => runCli(args, { STEPGATE_URL: server.baseUrl, STEPGATE_DATA_DIR: join(work, 'data'), STEPGATE_TOKEN: undefined });
  const json = async (...args: string[]) => {
    const result = await cli('--json', ...args);
    expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    return JSON.parse(result.stdout);
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'stepgate-cli-'));
    server = await startServer({ STEPGATE_DATA_DIR: migratedDataDir(join(work, 'data')) });
  }, 180_000);
  afterAll(async () => {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs A → B → C: run, inbox, attest with a real file, resume, status', async () => {
    const human = await cli('run', 'examples/quarterly-forecast.yaml', '--input', 'region=EMEA');
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/Run [0-9a-f-]{36} started: waiting/);
    expect(human.stdout).toMatch(/stepgate attest [0-9a-f-]{36} B --outcome SUCCESS --artifact forecast_csv=PATH/);
    // The step summary shows each LLM call's tokens (prompt → completion) and latency.
    expect(human.stdout).toMatch(/^ +A +task +SUCCESS +\d+ ms +\d+→\d+ tokens, LLM \d+ ms$/m);

    const run = await json('run', 'examples/quarterly-forecast.yaml', '--input', 'region=APAC');
    expect(run.status).toBe('waiting');
    expect(run.step_runs.map((s: { step_key: string; status: string }) => `${s.step_key}:${s.status}`)).toEqual(['A:SUCCESS', 'B:WAITING_FOR_ATTESTATION']);

    const inbox = await json('inbox');
    const mine = inbox.items.find((item: { run_id: string }) => item.run_id === run.id);
    expect(mine).toMatchObject({ step_key: 'B', contract: { executor: 'excel', outputs: ['forecast_csv'] } });
    const humanInbox = await cli('inbox');
    expect(humanInbox.stdout).toContain('expected outputs: forecast_csv');
    expect(humanInbox.stdout).toContain('upstream A: {"output":"[offline:echo] List the assumptions for APAC."}');

    const file = join(work, 'forecast.csv');
    const content = randomBytes(3 * 1024 * 1024);
    writeFileSync(file, content);
    const digest = createHash('sha256').update(readFileSync(file)).digest('hex');

    const attested = await json('attest', run.id, 'B', '--outcome', 'SUCCESS', '--artifact', `forecast_csv=${file}`, '--notes', 'Q3 workbook');
    const b = attested.step_runs.find((s: { step_key: string }) => s.step_key === 'B');
    expect(b.attestation).toMatchObject({ outcome: 'SUCCESS', attested_by: 'admin', attested_by_verified: true, notes: 'Q3 workbook' });
    expect(b.attestation.artifacts).toEqual([expect.objectContaining({ name: 'forecast_csv', uri: pathToFileURL(file).href, sha256: digest, bytes: content.length })]);

    const resumed = await json('resume', run.id);
    expect(resumed.status).toBe('success');
    const status = await json('status', run.id);
    expect(status.step_runs.map((s: { step_key: string; status: string }) => `${s.step_key}:${s.status}`)).toEqual(['A:SUCCESS', 'B:SUCCESS', 'C:SUCCESS']);
    expect(status.step_runs[2].output).toBe(`[offline:echo] Write a memo about ${pathToFileURL(file).href}.`);
    const humanStatus = await cli('status', run.id);
    expect(humanStatus.stdout).toContain(`B.forecast_csv: ${pathToFileURL(file).href} sha256:${digest}`);
    expect(humanStatus.stdout).toMatch(/^ +C +task +SUCCESS +\d+ ms +\d+→\d+ tokens, LLM \d+ ms$/m);
    expect(humanStatus.stdout).toMatch(/^ +B +compute +SUCCESS +\S.* attested by admin$/m);

    const listed = await json('runs', '--status', 'success');
    expect(listed.items.map((r: { id: string }) => r.id)).toContain(run.id);
  });

  it('attests a remote artifact with the digest and size given', async () => {
    const run = await json('run', 'examples/quarterly-forecast.yaml', '--input', 'region=LATAM');
    const digest = 'c'.repeat(64);
    const missing = await cli('attest', run.id, 'B', '--outcome', 'SUCCESS', '--artifact', 'forecast_csv=s3://bucket/q3.csv');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--sha256 forecast_csv=HEX and --bytes forecast_csv=N');
    const attested = await json('attest', run.id, run.waiting_on[0].step_run_id, '--outcome', 'success', '--artifact', 'forecast_csv=s3://bucket/q3.csv', '--sha256', `forecast_csv=${digest}`, '--bytes', 'forecast_csv=77');
    expect(attested.step_runs[1].attestation.artifacts).toEqual([expect.objectContaining({ uri: 's3://bucket/q3.csv', sha256: digest, bytes: 77 })]);
  });

  it('reports invalid manifests offline as file:line:column with the server messages', async () => {
    const file = join(work, 'bad.yaml');
    writeFileSync(
      file,
      ['name: bad', 'steps:', '  - key: A', '    prompt: "hi {{steps.C.output}}"', '  - key: B', '    step_type: compute', '    compute_contract:', '      executor: excel', '      inputs: []', '      outputs: []', '      verification: manual', ''].join('\n'),
    );
    const result = await cli('validate', file, 'examples/quarterly-forecast.yaml');
    expect(result.code).toBe(2);
    expect(result.stdout).toContain(`${file}:11:21: error steps[1].compute_contract.verification: expected "operator_attest", found string "manual"`);
    expect(result.stdout).toContain(`${file}:4:13: error steps[0].prompt: {{steps.C.output}}: unknown step "C"`);
    expect(result.stdout).toContain('examples/quarterly-forecast.yaml: valid');
    const asJson = JSON.parse((await cli('--json', 'validate', file)).stdout);
    expect(asJson.valid).toBe(false);
    expect(asJson.files[0].errors).toContainEqual({ path: 'steps[1].compute_contract.verification', message: expect.any(String), line: 11, column: 21 });
    expect((await cli('validate', 'examples/drug-stability-study.yaml')).code).toBe(0);
  });

  it('exits 2 on invalid input, 3 on a conflict, 4 when something is not found, 5 when the server is unreachable', async () => {
    expect((await cli('run', 'examples/quarterly-forecast.yaml')).code).toBe(2); // region is required
    expect((await cli('run', 'no-such-file.yaml')).code).toBe(2);
    const run = await json('run', 'examples/quarterly-forecast.yaml', '--input', 'region=X');
    expect((await cli('attest', run.id, 'B', '--outcome', 'MAYBE')).code).toBe(2);
    expect((await cli('attest', run.id, 'B', '--outcome', 'SUCCESS')).code).toBe(2); // forecast_csv is declared

    expect((await cli('attest', run.id, 'B', '--outcome', 'FAIL', '--notes', 'broken')).code).toBe(0);
    const conflict = await cli('--json', 'resume', run.id);
    expect(conflict.code).toBe(3);
    expect(JSON.parse(conflict.stdout).error).toMatchObject({ exit_code: 3, problem: { code: 'RUN_NOT_WAITING' } });
    expect((await cli('attest', run.id, 'B', '--outcome', 'FAIL')).code).toBe(3);

    const unknown = await cli('status', '00000000-0000-4000-8000-000000000000');
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain('No run has id');
    expect((await cli('attest', run.id, 'Z', '--outcome', 'SUCCESS')).code).toBe(4);

    const down = await runCli(['runs'], { STEPGATE_URL: 'http://127.0.0.1:9' });
    expect(down.code).toBe(5);
    expect(down.stderr).toContain('Start it with `npm start`');
  });

  it('plans, retries and cancels runs like the endpoints, with exit 3 on a conflict and 4 for an unknown run', async () => {
    const run = await json('run', 'examples/quarterly-forecast.yaml', '--input', 'region=LATAM');
    const b = run.step_runs.find((s: { step_key: string }) => s.step_key === 'B');
    const plan = await json('plan', run.id);
    expect(plan.steps.map((s: { step_key: string; plan: string }) => `${s.step_key}:${s.plan}`)).toEqual(['A:done', 'B:waiting', 'C:blocked']);
    expect((await cli('plan', run.id)).stdout).toContain(`stepgate resume ${run.id} would:`);

    expect((await cli('retry', run.id)).code).toBe(3);
    await json('attest', run.id, 'B', '--outcome', 'FAIL', '--notes', 'workbook broken');
    const failed = await cli('status', run.id);
    expect(failed.stdout).toContain(`stepgate retry ${run.id}`);
    const retried = await json('retry', run.id);
    expect(retried.step_runs.map((s: { step_key: string; status: string; attempt: number }) => `${s.step_key}:${s.status}:${s.attempt}`)).toEqual([
      'A:SUCCESS:1',
      'B:FAIL:1',
      'B:WAITING_FOR_ATTESTATION:2',
    ]);
    expect(retried.step_runs.find((s: { id: string }) => s.id === b.id).status).toBe('FAIL');

    const cancelled = await cli('cancel', run.id, '--reason', 'superseded');
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toContain('cancelled');
    expect(cancelled.stdout).toContain('superseded');
    const again = await cli('cancel', run.id);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('only a pending, running or waiting run can be cancelled');
    expect((await cli('cancel', '00000000-0000-4000-8000-000000000000')).code).toBe(4);
    const listed = await json('runs', '--status', 'cancelled');
    expect(listed.items.map((r: { id: string }) => r.id)).toContain(run.id);
  });

  it('runs a map step over samples: the inbox names each item, attest --item (or B[n]) attests one, status counts them', async () => {
    const samples = '[{"id":"S-1","matrix":"serum"},{"id":"S-2","matrix":"plasma"},{"id":"S-3","matrix":"urine"}]';
    const human = await cli('run', 'examples/sample-assays.yaml', '--input', `samples:=${samples}`);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^ +protocol\[2\] +task +SUCCESS/m);
    expect(human.stdout).toContain('measure: map over 3 items, 0 done, 3 waiting');
    expect(human.stdout).toMatch(/stepgate attest [0-9a-f-]{36} measure --item 1 --outcome SUCCESS --artifact reading=PATH/);
    const runId = /Run ([0-9a-f-]{36}) started/.exec(human.stdout)![1]!;

    const inbox = await cli('inbox');
    expect(inbox.stdout).toMatch(new RegExp(`measure\\[1\\] in run ${runId}`));
    expect(inbox.stdout).toContain('item 1: {"id":"S-2","matrix":"plasma"}');
    expect(inbox.stdout).toContain('instructions: Measure sample S-2 following protocol 1 of step protocol');

    const file = join(work, 'reading.csv');
    writeFileSync(file, 'well,od\nA1,0.42\n');
    // A map step needs its item named.
    const unnamed = await cli('attest', runId, 'measure', '--outcome', 'SUCCESS', '--artifact', `reading=${file}`);
    expect(unnamed.code).toBe(2);
    expect(unnamed.stderr).toContain('measure is a map step: name the item to attest with --item N (or measure[N]); items waiting: 0, 1, 2');
    expect((await cli('attest', runId, 'measure', '--item', '7', '--outcome', 'SUCCESS')).code).toBe(4);
    const one = await cli('attest', runId, 'measure', '--item', '1', '--outcome', 'SUCCESS', '--artifact', `reading=${file}`);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain('Attested measure[1] SUCCESS as admin.');
    for (const item of ['measure[0]', 'measure[2]']) expect((await cli('attest', runId, item, '--outcome', 'SUCCESS', '--artifact', `reading=${file}`)).code).toBe(0);

    const resumed = await cli('resume', runId);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('measure: map over 3 items, 3 done');
    expect(resumed.stdout).toMatch(/^ +report +task +SUCCESS/m);
    const run = await json('status', runId);
    expect(run.status).toBe('success');
    expect(run.step_runs.find((s: { step_key: string }) => s.step_key === 'report').output).toBe(`[offline:echo] Write the batch report over these readings: ${[1, 2, 3].map(() => pathToFileURL(file).href).join(' ')} `);
  });
});

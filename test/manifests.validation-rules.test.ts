import { sql } from 'drizzle-orm';
import { beforeAll, expect, it } from 'vitest';
import type { App } from '../src/http/app.js';
import { testApp } from './support/app.js';
import { queryRows } from '../src/storage/database.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem, postManifest } from './support/http.js';

const contract = { executor: 'excel', inputs: ['assumptions'], outputs: ['forecast_csv'], verification: 'operator_attest' };
const taskA = { key: 'A', prompt: 'List the assumptions for {{inputs.region}}.' };
const computeB = { key: 'B', step_type: 'compute', depends_on: ['A'], compute_contract: contract };
const manifest = (...steps: unknown[]) => ({ name: 'rules', steps });

/** Each rule of SPEC §1: the manifest, and the exact path and a fragment of the message. */
const RULES: Array<[string, unknown, string, RegExp]> = [
  ['step_type other than task/compute', manifest({ ...taskA, step_type: 'script' }), 'steps[0].step_type', /expected one of "task", "compute", found string "script"/],
  ['compute step without compute_contract', manifest(taskA, { key: 'B', step_type: 'compute', depends_on: ['A'] }), 'steps[1].compute_contract', /compute step needs a compute_contract/],
  ['contract without executor', manifest(taskA, { ...computeB, compute_contract: { ...contract, executor: undefined } }), 'steps[1].compute_contract.executor', /required/],
  ['contract with an empty executor', manifest(taskA, { ...computeB, compute_contract: { ...contract, executor: '' } }), 'steps[1].compute_contract.executor', /non-empty string/],
  ['contract inputs not an array', manifest(taskA, { ...computeB, compute_contract: { ...contract, inputs: 'assumptions' } }), 'steps[1].compute_contract.inputs', /expected an array, found string "assumptions"/],
  ['contract outputs missing', manifest(taskA, { ...computeB, compute_contract: { ...contract, outputs: undefined } }), 'steps[1].compute_contract.outputs', /required: expected an array/],
  ['output object without a name', manifest(taskA, { ...computeB, compute_contract: { ...contract, outputs: [{ title: 'x' }] } }), 'steps[1].compute_contract.outputs[0]', /object with a non-empty "name"/],
  ['verification other than operator_attest', manifest(taskA, { ...computeB, compute_contract: { ...contract, verification: 'auto' } }), 'steps[1].compute_contract.verification', /expected "operator_attest", found string "auto"/],
  ['verification missing', manifest(taskA, { ...computeB, compute_contract: { ...contract, verification: undefined } }), 'steps[1].compute_contract.verification', /required/],
  ['task step without prompt', manifest({ key: 'A' }), 'steps[0].prompt', /task step needs a prompt/],
  ['null step_type without prompt (null means task)', manifest({ key: 'A', step_type: null }), 'steps[0].prompt', /task step needs a prompt/],
  ['compute_contract on a task step', manifest({ ...taskA, compute_contract: contract }), 'steps[0].compute_contract', /task step carries no compute_contract/],
  ['prompt on a compute step', manifest(taskA, { ...computeB, prompt: 'hi' }), 'steps[1].prompt', /compute step calls no LLM/],
  ['duplicate keys', manifest(taskA, { key: 'A', prompt: 'again' }), 'steps[1].key', /duplicate key "A": steps\[0\] already uses it/],
  ['unknown depends_on', manifest({ ...taskA, depends_on: ['Z'] }), 'steps[0].depends_on[0]', /unknown step "Z"/],
  ['self dependency', manifest({ ...taskA, depends_on: ['A'] }), 'steps[0].depends_on[0]', /cannot depend on itself/],
  ['a cycle', manifest({ ...taskA, depends_on: ['C'] }, { key: 'B', depends_on: ['A'], prompt: 'b' }, { key: 'C', depends_on: ['B'], prompt: 'c' }), 'steps[0].depends_on', /the steps form a cycle: A → B → C → A/],
  ['template reference to a step that is not upstream', manifest(taskA, { key: 'C', prompt: 'memo {{steps.B.artifacts.forecast_csv.uri}}' }, computeB), 'steps[1].prompt', /step "B" is not upstream of "C"/],
  ['template reference to an unknown step', manifest({ key: 'A', prompt: '{{steps.Q.output}}' }), 'steps[0].prompt', /unknown step "Q"/],
  ['template reference to an undeclared compute output', manifest(taskA, computeB, { key: 'C', depends_on: ['B'], prompt: '{{steps.B.artifacts.memo.uri}}' }), 'steps[2].prompt', /"memo" is not an output of step "B"/],
  ['bad key pattern', manifest({ key: 'a b', prompt: 'x' }), 'steps[0].key', /step key of letters, digits/],
  ['bad name pattern', { name: 'Quarterly Forecast', steps: [taskA] }, 'name', /lowercase letters/],
  ['unknown key', { ...manifest(taskA), owner: 'me' }, 'owner', /unknown key "owner"/],
  ['no steps', { name: 'empty', steps: [] }, 'steps', /expected at least one step, found an empty array/],
  ['unknown provider', manifest({ ...taskA, model: 'acme:big' }), 'steps[0].model', /^step "A" names the unknown provider "acme": expected one of "offline", "openai", "anthropic"$/],
  ['system on a compute step', manifest(taskA, { ...computeB, system: 'You are careful.' }), 'steps[1].system', /compute step calls no LLM, so it takes no system/],
  ['system reference to a step that is not upstream', manifest(taskA, computeB, { key: 'C', prompt: 'memo', system: 'Quote {{steps.B.notes}}.' }), 'steps[2].system', /\{\{steps\.B\.notes\}\}: step "B" is not upstream of "C"/],
  ['system with a helper outside the safe subset', manifest({ ...taskA, system: '{{log inputs.region}}' }), 'steps[0].system', /log/],
  ['an empty system', manifest({ ...taskA, system: '' }), 'steps[0].system', /non-empty string/],
];

describeEachDriver(
  'manifest validation (SPEC §1)',
  (ctx) => {
  let app: App;
  beforeAll(async () => {
    app = await testApp(ctx.database);
  });

  for (const [rule, body, path, message] of RULES) {
    it(`rejects ${rule} with 422 at ${path}, and stores nothing`, async () => {
      const response = await postManifest(app, body);
      const problem = expectProblem(response, 422, 'MANIFEST_INVALID');
      expect(problem.errors).toContainEqual({ path, message: expect.stringMatching(message) });
      const rows = await queryRows<{ n: number }>(ctx.database.db, 
        sql`SELECT (SELECT count(*) FROM manifests)::int + (SELECT count(*) FROM manifest_steps)::int AS n`,
      );
      expect(rows[0]!.n).toBe(0);
    });
  }

  it('reports every problem of a manifest at once', async () => {
    const response = await postManifest(app, {
      name: 'Bad',
      steps: [{ key: 'A' }, { ...computeB, compute_contract: { ...contract, verification: 'auto' } }, { key: 'A', prompt: 'x', depends_on: ['nope'] }],
    });
    const paths = expectProblem(response, 422).errors!.map((e) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining(['name', 'steps[0].prompt', 'steps[1].compute_contract.verification', 'steps[2].key', 'steps[2].depends_on[0]']),
    );
  });

  it('answers the dry run with the same 422, and 200 for a valid manifest, storing nothing', async () => {
    expectProblem(await postManifest(app, manifest({ key: 'A' }), 'application/json', '/api/manifests/validate'), 422, 'MANIFEST_INVALID');
    const ok = await postManifest(app, manifest(taskA, computeB), 'application/json', '/api/manifests/validate');
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ valid: true, manifest: { name: 'rules', version: 1 } });
    const rows = await queryRows<{ n: number }>(ctx.database.db, sql`SELECT count(*)::int AS n FROM manifests`);
    expect(rows[0]!.n).toBe(0);
  });

  it('treats a missing and a null step_type both as task, stored as NULL', async () => {
    const response = await postManifest(app, {
      name: 'types',
      steps: [taskA, { key: 'B', step_type: null, prompt: 'again {{steps.A.output}}', depends_on: ['A'] }],
    });
    expect(response.statusCode).toBe(201);
    const rows = await queryRows<{ key: string; step_type: string | null }>(ctx.database.db, 
      sql`SELECT s.key, s.step_type FROM manifest_steps s JOIN manifests m ON m.id = s.manifest_id WHERE m.name = 'types' ORDER BY s.position`,
    );
    expect(rows).toEqual([
      { key: 'A', step_type: null },
      { key: 'B', step_type: null },
    ]);
  });
  },
  // Every test here but the last stores nothing (and checks it), so one database serves all.
  { shared: true },
);

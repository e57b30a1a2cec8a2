import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import type { App } from '../src/http/app.js';
import type { Database } from '../src/storage/database.js';
import { testApp } from './support/app.js';
import { testDrivers } from './support/databases.js';
import { expectProblem, postManifest } from './support/http.js';
import { startRun, storeManifest } from './support/runs.js';

/** SPEC §11: templates are variable paths and the documented helpers; everything else is refused at validation. */

const REFUSED: Array<[construct: string, template: string, message: RegExp]> = [
  ['the log helper', 'Hi {{log "forged server line"}}', /the value helper "log" is not allowed \(line 1, column 4\)/],
  ['log without a value', '{{log}}', /the helper "log" used without a value is not allowed \(line 1, column 1\)/],
  ['the lookup helper', '{{lookup inputs "region"}}', /the value helper "lookup" is not allowed \(line 1, column 1\)/],
  ['a partial', 'x\n  {{> header}}', /a partial \(\{\{> …\}\}\) is not allowed \(line 2, column 3\)/],
  ['a partial block', '{{#> layout}}body{{/layout}}', /a partial \(\{\{> …\}\}\) is not allowed \(line 1, column 1\)/],
  ['an inline partial', '{{#*inline "p"}}x{{/inline}}', /an inline partial \(\{\{#\*inline\}\}\) is not allowed \(line 1, column 1\)/],
  ['a decorator', '{{* decorate}}', /a decorator \(\{\{\* …\}\}\) is not allowed/],
  ['an unknown helper', '{{shout inputs.region}}', /the value helper "shout" is not allowed/],
  ['an unknown block helper', '{{#repeat inputs.region}}x{{/repeat}}', /the block helper "repeat" is not allowed/],
  ['a helper inside an each block', '{{#each inputs.list}}{{lookup this "x"}}{{/each}}', /the value helper "lookup" is not allowed \(line 1, column 22\)/],
  ['an unknown helper in a sub-expression', '{{json (shout inputs.region)}}', /the sub-expression helper "shout" is not allowed/],
  ['named arguments', '{{json inputs.region indent=2}}', /named arguments \(indent=…\) is not allowed/],
];

describe('templates: the safe subset', () => {
  for (const driver of testDrivers().slice(0, 1)) {
    let database: Database;
    let app: App;
    beforeAll(async () => {
      database = await driver.fresh();
      app = await testApp(database);
    });
    afterAll(async () => database.close());

    it.each(REFUSED)('refuses %s at validation with 422 naming the step and the position', async (_construct, template, message) => {
      const manifest = { name: 'subset', steps: [{ key: 'A', prompt: 'fine' }, { key: 'B', depends_on: ['A'], prompt: template }] };
      const problem = expectProblem(await postManifest(app, manifest, 'application/json', '/api/manifests/validate'), 422, 'MANIFEST_INVALID');
      expect(problem.errors).toHaveLength(1);
      expect(problem.errors![0]!.path).toBe('steps[1].prompt');
      expect(problem.errors![0]!.message).toMatch(message);
      expect(problem.errors![0]!.message).toContain('templates use variable paths, {{json value}} and the blocks #if, #unless, #each, #with');
    });

    it('renders every allowed construct: paths, json, if/else, unless, each with @index, with, comments', async () => {
      const prompt = [
        '{{! a comment }}Region {{inputs.region}}.',
        '{{json inputs.meta}}',
        '{{#if inputs.urgent}}urgent{{else}}calm{{/if}}',
        '{{#unless inputs.urgent}}not urgent{{/unless}}',
        '{{#each inputs.list}}[{{@index}}:{{this}}]{{/each}}',
        '{{#with inputs.meta}}owner={{owner}}{{/with}}',
        'upstream: {{steps.A.output}} {{json (json steps.A.output)}}',
      ].join('\n');
      const id = await storeManifest(app, { name: 'allowed', steps: [{ key: 'A', prompt: 'first' }, { key: 'B', depends_on: ['A'], prompt }] });
      const run = await startRun(app, id, { region: 'EMEA', meta: { owner: 'ana' }, urgent: false, list: ['x', 'y'] });
      expect(run.status).toBe('success');
      expect(run.step_runs[1]!.output).toBe(
        [
          '[offline:echo] Region EMEA.',
          '{\n  "owner": "ana"\n}',
          'calm',
          'not urgent',
          '[0:x][1:y]',
          'owner=ana',
          'upstream: [offline:echo] first "\\"[offline:echo] first\\""',
        ].join('\n'),
      );
    });
  }
});

import { readdirSync, readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { expect, it } from 'vitest';
import { parseManifestSource } from '../src/core/manifest/parse.js';
import { validateManifest } from '../src/core/manifest/validate.js';
import { BUILT_IN_PROVIDERS as PROVIDER_NAMES, parseProvidersFile } from '../src/core/providers-file.js';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { postManifest } from './support/http.js';

const dir = new URL('../examples/', import.meta.url);
// The example providers file is no manifest: it is checked below, against its own schema.
const examples = readdirSync(dir).filter((file) => /\.(ya?ml|json)$/.test(file) && !file.endsWith('.providers.yaml'));

it('has the A→B→C manifest and a larger one among the examples', () => {
  expect(examples).toEqual(expect.arrayContaining(['quarterly-forecast.yaml', 'drug-stability-study.yaml']));
  for (const file of examples) {
    const result = validateManifest(parseManifestSource(readFileSync(new URL(file, dir), 'utf8')).value, { providers: PROVIDER_NAMES });
    expect(result, file).toMatchObject({ ok: true });
  }
});

it("validates the README's manifest reference example", () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /## Writing manifests[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme);
  expect(block, 'README.md has a Writing manifests example').not.toBeNull();
  expect(validateManifest(parseManifestSource(block![1]!).value, { providers: PROVIDER_NAMES })).toMatchObject({ ok: true });
});

it('has a committed manifest JSON Schema that editors can validate the examples with', () => {
  const schema = JSON.parse(readFileSync(new URL('../schema/manifest.schema.json', import.meta.url), 'utf8'));
  const validate = new Ajv2020({ strict: false }).compile(schema);
  for (const file of examples) {
    const value = parseManifestSource(readFileSync(new URL(file, dir), 'utf8')).value;
    expect(validate(value), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
  }
  expect(validate({ name: 'x', steps: [{ key: 'B', step_type: 'compute', compute_contract: { executor: 'excel', inputs: [], outputs: [], verification: 'auto' } }] })).toBe(false);
});

it('has an example providers file that the server accepts and editors validate with the committed schema', () => {
  const text = readFileSync(new URL('stepgate.providers.yaml', dir), 'utf8');
  expect(parseProvidersFile(text, 'examples/stepgate.providers.yaml').entries.map((entry) => entry.name)).toEqual(['local', 'router', 'claude']);
  const validate = new Ajv2020({ strict: false }).compile(JSON.parse(readFileSync(new URL('../schema/providers.schema.json', import.meta.url), 'utf8')));
  expect(validate(parseManifestSource(text).value), JSON.stringify(validate.errors)).toBe(true);
  expect(validate({ providers: { local: { kind: 'ollama', base_url: 'http://x/v1' } } })).toBe(false);
  expect(validate({ providers: { local: { kind: 'openai', base_url: 'http://x/v1', api_key: 'sk-x' } } })).toBe(false);
});

describeEachDriver('the example manifests', (ctx) => {
  it('are accepted by the API', async () => {
    const app = await testApp(ctx.database);
    for (const file of examples) {
      const response = await postManifest(app, readFileSync(new URL(file, dir), 'utf8'), 'application/yaml');
      expect(response.statusCode, `${file}: ${response.body}`).toBe(201);
    }
  });
});

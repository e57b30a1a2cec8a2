/**
 * Writes the generated files that are committed: the manifest JSON Schema (for editors), the
 * provenance predicate's JSON Schema (for auditors) and the OpenAPI document, all from the Zod
 * schemas the server works with.
 * `--check` writes nothing and fails when a committed file is stale (CI runs it).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { manifestSchema } from '../src/core/manifest/schema.js';
import { attestationPredicateSchema, PREDICATE_TYPE } from '../src/core/provenance/predicate.js';
import { buildApp } from '../src/http/app.js';
import { createEngineDeps } from '../src/engine/create-deps.js';
import type { Db } from '../src/storage/database.js';

const check = process.argv.includes('--check');
const root = new URL('../', import.meta.url);

const manifestJsonSchema = {
  title: 'stepgate manifest',
  ...z.toJSONSchema(manifestSchema, { io: 'input', target: 'draft-2020-12' }),
};

const predicateJsonSchema = {
  $id: `${PREDICATE_TYPE}/schema.json`,
  title: `stepgate attestation predicate (${PREDICATE_TYPE})`,
  ...z.toJSONSchema(attestationPredicateSchema, { io: 'output', target: 'draft-2020-12' }),
};

// The routes only touch the database inside handlers; none runs here.
const app = await buildApp(
  createEngineDeps({ db: undefined as unknown as Db, providers: new Map(), defaultModel: 'offline:echo', leaseMs: 1 }),
);
await app.ready();
const openapi = app.swagger();
await app.close();

const files: Array<[string, unknown]> = [
  ['schema/manifest.schema.json', manifestJsonSchema],
  ['schema/attestation-predicate.schema.json', predicateJsonSchema],
  ['schema/openapi.json', openapi],
];

let stale = 0;
for (const [path, value] of files) {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  const url = new URL(path, root);
  if (!check) {
    writeFileSync(url, text);
    console.log(`wrote ${path}`);
    continue;
  }
  let committed = '';
  try {
    committed = readFileSync(url, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (committed !== text) {
    stale++;
    console.error(`${path} is stale: run \`npm run generate\` and commit the result.`);
  }
}
if (stale > 0) process.exit(1);
if (check) console.log('generated files are current');

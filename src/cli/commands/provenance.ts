import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ApiClient } from '../client.js';
import { CliError } from '../client.js';
import type { Statement } from '../../core/provenance/predicate.js';
import { EXIT } from '../exit-codes.js';
import type { Output } from '../output.js';

/**
 * `stepgate provenance RUN [--out DIR]`: the run's signed provenance. Without --out, the
 * bundle (JSON Lines, one DSSE envelope per attestation) on stdout. With --out, files an
 * auditor can take away: one envelope per attestation, the bundle, the server's public keys
 * and a README.md that lists them and says how to verify them.
 */

interface Envelope {
  payloadType: string;
  payload: string;
  signatures: Array<{ keyid?: string; sig: string }>;
}

export async function provenanceCommand(api: ApiClient, out: Output, runId: string, options: { out?: string }): Promise<number> {
  const run = encodeURIComponent(runId);
  const bundle = await api.requestText('GET', `/api/runs/${run}/provenance?envelope=dsse`);
  if (!options.out) {
    process.stdout.write(bundle);
    return EXIT.ok;
  }
  const keys = await api.request<{ keys: Array<{ keyid: string; active: boolean; created_at: string; retired_at: string | null }> }>('GET', '/api/keys');
  const envelopes = bundle.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Envelope);
  const dir = resolve(options.out);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new CliError(`cannot create ${dir}: ${(err as Error).message}`, EXIT.invalidInput);
  }
  const files = envelopes.map((envelope) => {
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as Statement;
    const { step } = statement.predicate;
    const name = `${step.key.replace(/[^A-Za-z0-9_-]/g, '_')}.attempt-${step.attempt}.intoto.json`;
    writeFileSync(join(dir, name), `${JSON.stringify(envelope, null, 2)}\n`);
    return { name, statement, keyid: envelope.signatures[0]?.keyid ?? '' };
  });
  writeFileSync(join(dir, 'bundle.intoto.jsonl'), bundle);
  writeFileSync(join(dir, 'keys.json'), `${JSON.stringify(keys, null, 2)}\n`);
  writeFileSync(join(dir, 'README.md'), index(runId, files, keys.keys));

  if (out.json) out.data({ run_id: runId, dir, files: [...files.map((f) => f.name), 'bundle.intoto.jsonl', 'keys.json', 'README.md'] });
  else {
    out.line(`Wrote the provenance of run ${runId} to ${dir}: ${files.length} signed attestation${files.length === 1 ? '' : 's'}, bundle.intoto.jsonl, keys.json, README.md.`);
    for (const file of files) out.line(`  ${file.name}  ${file.statement.predicate.outcome}, attested by ${file.statement.predicate.attester.name}`);
    if (files[0]) out.line(`Verify offline: stepgate verify ${join(options.out, files[0].name)} --key ${join(options.out, 'keys.json')} [FILES…]`);
  }
  return EXIT.ok;
}

function index(runId: string, files: Array<{ name: string; statement: Statement; keyid: string }>, keys: Array<{ keyid: string; active: boolean; created_at: string; retired_at: string | null }>): string {
  const first = files[0]?.statement.predicate;
  const lines = [
    `# Provenance of stepgate run ${runId}`,
    '',
    first ? `Manifest ${first.manifest.name} version ${first.manifest.version} (content hash sha256 ${first.manifest.content_hash}).` : 'Nothing in this run is attested yet.',
    '',
    'Each `*.intoto.json` file is a DSSE envelope (payloadType `application/vnd.in-toto+json`) holding an in-toto',
    'Statement v1 with predicateType `https://stepgate.dev/attestation/v1`, signed with the stepgate server\'s Ed25519',
    'key. `bundle.intoto.jsonl` holds the same envelopes, one per line; `keys.json` the server\'s public keys.',
    '',
    '| file | step | outcome | attested by | attested at | subjects (sha256) |',
    '|---|---|---|---|---|---|',
    ...files.map(({ name, statement }) => {
      const p = statement.predicate;
      const subjects = statement.subject.map((s) => `${s.name} \`${s.digest.sha256}\``).join('<br>');
      return `| ${name} | ${p.step.key} (attempt ${p.step.attempt}) | ${p.outcome} | ${p.attester.name} | ${p.attested_at} | ${subjects} |`;
    }),
    '',
    '## Keys',
    '',
    ...keys.map((k) => `- \`${k.keyid}\` (${k.active ? 'active' : `retired ${k.retired_at}`}), created ${k.created_at}`),
    '',
    '## Verify',
    '',
    'With stepgate (offline, with the keys in this directory), re-hashing the artifacts you were given:',
    '',
    '```sh',
    ...(files[0] ? [`stepgate verify ${files[0].name} --key keys.json ARTIFACT_FILES…`] : []),
    'stepgate verify bundle.intoto.jsonl --key keys.json ARTIFACT_FILES…',
    '```',
    '',
    'Exit code 0: every signature and file verifies; 6: a signature does not; 7: a file differs from its subject.',
    'Without stepgate: the signature is Ed25519 over the DSSE pre-authentication encoding',
    '`"DSSEv1" SP len(payloadType) SP payloadType SP len(payload) SP payload` of the base64-decoded payload,',
    'with the key whose keyid (sha256 of the SPKI DER public key) the signature names.',
    '',
  ];
  return lines.join('\n');
}

import { readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { ApiClient } from '../client.js';
import { CliError } from '../client.js';
import { envelopeSchema, keyidOf, verifyEnvelope, type DsseEnvelope, type PublicKey } from '../../core/provenance/dsse.js';
import { IN_TOTO_PAYLOAD_TYPE, statementSchema, type Statement } from '../../core/provenance/predicate.js';
import { hashFile } from '../../providers/artifacts/hash-file.js';
import { EXIT } from '../exit-codes.js';
import type { Output } from '../output.js';

/**
 * `stepgate verify STATEMENT [FILES…] [--key FILE]`: checks each envelope's signature with
 * the server's published keys (GET /api/keys) or a key file (offline), then re-hashes local
 * files against the statements' subjects. Exit 0 when everything verifies, 6 when a
 * signature does not (it wins: an unsigned or tampered statement says nothing about files),
 * 7 when a file differs or matches no subject.
 */

interface KeyInfo extends PublicKey {
  readonly active: boolean | undefined;
}

interface EnvelopeReport {
  readonly index: number;
  readonly signature: 'verified' | 'bad';
  readonly keyid: string | null;
  readonly reason: string | null;
  readonly statement: Statement | null;
}

interface FileReport {
  readonly path: string;
  readonly result: 'matches' | 'differs' | 'not_in_statement';
  readonly subject: string | null;
  readonly expected: { sha256: string; bytes: number | null } | null;
  readonly found: { sha256: string; bytes: number };
}

export async function verifyCommand(api: () => ApiClient, out: Output, statementPath: string, files: string[], options: { key?: string }): Promise<number> {
  const envelopes = readEnvelopes(statementPath);
  const keys = options.key ? readKeyFile(options.key) : await serverKeys(api());
  const reports = envelopes.map((envelope, index) => checkEnvelope(envelope, index, keys));
  const fileReports: FileReport[] = [];
  for (const file of files) fileReports.push(await checkFile(file, reports));

  const signaturesOk = reports.every((r) => r.signature === 'verified');
  const filesOk = fileReports.every((f) => f.result === 'matches');
  const code = !signaturesOk ? EXIT.signatureBad : !filesOk ? EXIT.fileDiffers : EXIT.ok;
  if (out.json) {
    out.data({
      verified: code === EXIT.ok,
      exit_code: code,
      envelopes: reports.map((r) => ({ index: r.index, signature: r.signature, keyid: r.keyid, reason: r.reason, statement: r.statement })),
      files: fileReports,
    });
    return code;
  }
  for (const report of reports) {
    const label = envelopes.length > 1 ? `envelope ${report.index + 1}` : 'envelope';
    const what = report.statement ? describeStatement(report.statement) : '';
    if (report.signature === 'verified') {
      const key = keys.find((k) => k.keyid === report.keyid);
      const status = key?.active === false ? ', retired key' : '';
      out.line(`${label}: ${out.style('green', 'signature verified')} (key ${report.keyid!.slice(0, 16)}…${status})${what ? ` — ${what}` : ''}`);
    } else {
      out.line(`${label}: ${out.style('red', 'SIGNATURE BAD')}: ${report.reason}${what ? ` — claims ${what}` : ''}`);
    }
  }
  for (const file of fileReports) {
    const found = `sha256 ${file.found.sha256}, ${file.found.bytes} bytes`;
    if (file.result === 'matches') out.line(`${file.path}: ${out.style('green', 'matches')} subject ${file.subject} (${found})`);
    else if (file.result === 'differs') {
      const expected = `sha256 ${file.expected!.sha256}${file.expected!.bytes === null ? '' : `, ${file.expected!.bytes} bytes`}`;
      out.line(`${file.path}: ${out.style('red', 'DIFFERS')} from subject ${file.subject}: the statement says ${expected}; the file has ${found}`);
    } else out.line(`${file.path}: ${out.style('red', 'NOT IN THE STATEMENT')}: no subject has its name or its digest (${found})`);
  }
  out.line(
    code === EXIT.ok
      ? out.style('green', `Verified: ${reports.length} signature${reports.length === 1 ? '' : 's'}${fileReports.length ? `, ${fileReports.length} file${fileReports.length === 1 ? '' : 's'}` : ''}.`)
      : out.style('red', code === EXIT.signatureBad ? 'Not verified: a signature does not verify.' : 'Not verified: a file differs from the statement.'),
  );
  return code;
}

function describeStatement(statement: Statement): string {
  const p = statement.predicate;
  return `step ${p.step.key} (attempt ${p.step.attempt}) of run ${p.run.id}, ${p.outcome}, attested by ${p.attester.name} at ${p.attested_at}`;
}

/** One envelope (a JSON file), or a bundle (JSON Lines, one envelope per line). */
function readEnvelopes(path: string): DsseEnvelope[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, EXIT.invalidInput);
  }
  let documents: unknown[];
  try {
    documents = [JSON.parse(text)];
  } catch {
    try {
      documents = text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as unknown);
    } catch {
      throw new CliError(`${path} is neither a JSON document nor JSON Lines: expected a DSSE envelope or a bundle of them (stepgate provenance RUN --out DIR writes both).`, EXIT.invalidInput);
    }
  }
  if (documents.length === 0) throw new CliError(`${path} holds no envelope.`, EXIT.invalidInput);
  return documents.map((document, i) => {
    const where = documents.length > 1 ? `${path} line ${i + 1}` : path;
    if (typeof document === 'object' && document !== null && '_type' in document) {
      throw new CliError(
        `${where} is an unsigned statement: there is no signature to verify. Fetch it signed with ?envelope=dsse, or with stepgate provenance RUN --out DIR.`,
        EXIT.signatureBad,
      );
    }
    const parsed = envelopeSchema.safeParse(document);
    if (!parsed.success) throw new CliError(`${where} is not a DSSE envelope (payloadType, payload, signatures).`, EXIT.invalidInput);
    return parsed.data;
  });
}

/** A PEM public key, or the JSON of GET /api/keys (keys.json of `stepgate provenance --out`). */
function readKeyFile(path: string): KeyInfo[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read the key file ${path}: ${(err as Error).message}`, EXIT.invalidInput);
  }
  try {
    if (text.trimStart().startsWith('-----BEGIN')) return [{ keyid: keyidOf(text), publicKey: text, active: undefined }];
    const parsed = JSON.parse(text) as { keys?: Array<{ keyid?: unknown; public_key?: unknown; active?: unknown }> };
    const keys = (parsed.keys ?? []).map((k) => ({ keyid: keyidOf(String(k.public_key)), publicKey: String(k.public_key), active: typeof k.active === 'boolean' ? k.active : undefined }));
    if (keys.length === 0) throw new Error('no keys');
    return keys;
  } catch {
    throw new CliError(`${path} is not a public key: expected a PEM public key (SPKI) or the JSON of GET /api/keys.`, EXIT.invalidInput);
  }
}

async function serverKeys(api: ApiClient): Promise<KeyInfo[]> {
  const { keys } = await api.request<{ keys: Array<{ keyid: string; public_key: string; active: boolean }> }>('GET', '/api/keys');
  // The keyid is recomputed from the key itself, not taken on the server's word.
  return keys.map((k) => ({ keyid: keyidOf(k.public_key), publicKey: k.public_key, active: k.active }));
}

function checkEnvelope(envelope: DsseEnvelope, index: number, keys: readonly KeyInfo[]): EnvelopeReport {
  const check = verifyEnvelope(envelope, keys);
  const parsed = statementSchema.safeParse(safeJson(Buffer.from(envelope.payload, 'base64').toString('utf8')));
  const statement = parsed.success ? parsed.data : null;
  if (!check.valid) return { index, signature: 'bad', keyid: null, reason: check.reason, statement };
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE || !statement) {
    return { index, signature: 'bad', keyid: check.keyid, reason: `the signed payload is not a stepgate in-toto statement (payloadType ${envelope.payloadType})`, statement: null };
  }
  return { index, signature: 'verified', keyid: check.keyid, reason: null, statement };
}

/** FILE, or SUBJECT=FILE to name the subject; otherwise matched by name, URI file name, or digest. */
async function checkFile(argument: string, reports: readonly EnvelopeReport[]): Promise<FileReport> {
  const named = /^([^=/\\]+)=(.+)$/.exec(argument);
  const path = named ? named[2]! : argument;
  try {
    if (!statSync(path).isFile()) throw new Error('not a regular file');
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`, EXIT.invalidInput);
  }
  const found = await hashFile(resolve(path));
  const artifacts = reports.flatMap((r) =>
    r.statement
      ? r.statement.subject.map((s) => ({
          name: s.name,
          sha256: s.digest.sha256,
          uri: r.statement!.predicate.artifacts.find((a) => a.name === s.name)?.uri ?? null,
          bytes: r.statement!.predicate.artifacts.find((a) => a.name === s.name)?.bytes ?? null,
        }))
      : [],
  );
  const file = basename(path);
  const byName = named
    ? artifacts.find((a) => a.name === named[1])
    : (artifacts.find((a) => a.name === file) ?? artifacts.find((a) => a.uri !== null && uriFileName(a.uri) === file));
  const candidate = named ? byName : (byName ?? artifacts.find((a) => a.sha256 === found.sha256));
  if (!candidate) return { path, result: 'not_in_statement', subject: null, expected: null, found };
  const same = candidate.sha256 === found.sha256 && (candidate.bytes === null || candidate.bytes === found.bytes);
  return { path, result: same ? 'matches' : 'differs', subject: candidate.name, expected: { sha256: candidate.sha256, bytes: candidate.bytes }, found };
}

function uriFileName(uri: string): string | null {
  try {
    return basename(decodeURIComponent(new URL(uri).pathname));
  } catch {
    return null;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

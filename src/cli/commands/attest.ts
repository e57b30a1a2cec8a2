import { existsSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import type { ApiClient } from '../client.js';
import { CliError } from '../client.js';
import type { ArtifactJson, RunJson } from '../api-types.js';
import { EXIT } from '../exit-codes.js';
import { hashFile } from '../../providers/artifacts/hash-file.js';
import type { Output } from '../output.js';
import { printRun } from './runs.js';

export interface AttestOptions {
  outcome: string;
  item?: string;
  notes?: string;
  by?: string;
  artifact?: string[];
  sha256?: string[];
  bytes?: string[];
}

/**
 * `stepgate attest RUN STEP [--item N] --outcome SUCCESS|FAIL --artifact NAME=PATH_OR_URI …`
 * STEP is a step key, `B[3]` (item 3 of map step B, like `--item 3`) or a step-run id. A local path (or file:// URI) is hashed here, streamed,
 * and recorded as an absolute file:// URI; a remote URI needs --sha256 NAME=HEX and
 * --bytes NAME=N.
 */
export async function attestCommand(api: ApiClient, out: Output, runId: string, step: string, options: AttestOptions): Promise<number> {
  const outcome = options.outcome.toUpperCase();
  if (outcome !== 'SUCCESS' && outcome !== 'FAIL') throw new CliError(`--outcome must be SUCCESS or FAIL, found "${options.outcome}"`, EXIT.invalidInput);
  const run = await api.request<RunJson>('GET', `/api/runs/${encodeURIComponent(runId)}`);
  const stepRun = stepRunToAttest(run, step, options.item);
  const artifacts = await readArtifacts(options);
  // With a token the server knows who attests (the token's name); --by may only repeat it.
  // Without one (a server with STEPGATE_AUTH=off) the body names the attester.
  const attestedBy = options.by ?? (api.hasToken ? undefined : (process.env.STEPGATE_OPERATOR ?? safeUserName()));
  const body = { outcome, ...(attestedBy !== undefined ? { attested_by: attestedBy } : {}), ...(options.notes !== undefined ? { notes: options.notes } : {}), artifacts };
  const attested = await api.request<RunJson>('POST', `/api/runs/${run.id}/steps/${stepRun.id}/attest`, { json: body });
  if (out.json) out.data(attested);
  else {
    const recorded = attested.step_runs.find((s) => s.id === stepRun.id)?.attestation;
    out.line(`Attested ${stepRun.item_index === null ? stepRun.step_key : `${stepRun.step_key}[${stepRun.item_index}]`} ${outcome} as ${recorded?.attested_by ?? attestedBy}${recorded && !recorded.attested_by_verified ? ' (not verified: authentication is off)' : ''}.`);
    for (const a of recorded?.artifacts ?? []) {
      const verification = a.verified ? out.style('green', 'verified by the server') : out.style('gray', `not verified: ${a.verification}`);
      out.line(`  ${a.name}: ${a.uri} sha256:${a.sha256} ${a.bytes} bytes (${verification})`);
    }
    if (attested.status === 'waiting') out.line(`Continue the run: stepgate resume ${attested.id}`);
    else await printRun(api, out, attested, { verb: 'status' });
  }
  return EXIT.ok;
}

/**
 * The step run STEP names: by id; else the step (or the item of a map step) by key — its
 * waiting attempt, or its latest one (whose status the server then explains).
 */
function stepRunToAttest(run: RunJson, step: string, item: string | undefined): RunJson['step_runs'][number] {
  const byId = run.step_runs.find((s) => s.id === step);
  if (byId) return byId;
  const bracket = /^(.+)\[(\d+)\]$/.exec(step);
  const key = bracket ? bracket[1]! : step;
  const given = bracket?.[2] ?? item;
  if (given !== undefined && !/^\d+$/.test(given)) throw new CliError(`--item ${given}: expected an item index (0, 1, 2, …)`, EXIT.invalidInput);
  if (bracket && item !== undefined && item !== bracket[2]) throw new CliError(`${step} and --item ${item} name different items`, EXIT.invalidInput);
  const ofStep = run.step_runs.filter((s) => s.step_key === key);
  if (ofStep.length === 0) {
    throw new CliError(`Run ${run.id} has no step run "${step}". Its steps: ${[...new Set(run.step_runs.map((s) => s.step_key))].join(', ') || '(none yet)'}.`, EXIT.notFound);
  }
  const isMap = ofStep.some((s) => s.item_index !== null);
  if (isMap && given === undefined) {
    const waiting = ofStep.filter((s) => s.status === 'WAITING_FOR_ATTESTATION').map((s) => s.item_index);
    throw new CliError(`${key} is a map step: name the item to attest with --item N (or ${key}[N]); items waiting: ${waiting.join(', ') || 'none'}.`, EXIT.invalidInput);
  }
  const candidates = given === undefined ? ofStep : ofStep.filter((s) => s.item_index === Number(given));
  if (candidates.length === 0) throw new CliError(`Run ${run.id} has no item ${given} of step ${key}: it has items 0 to ${Math.max(...ofStep.map((s) => s.item_index ?? 0))}.`, EXIT.notFound);
  return candidates.find((s) => s.status === 'WAITING_FOR_ATTESTATION') ?? candidates.reduce((a, b) => (b.attempt > a.attempt ? b : a));
}

function pairs(list: string[] | undefined, flag: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const pair of list ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError(`${flag} ${pair}: expected NAME=VALUE`, EXIT.invalidInput);
    map.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return map;
}

async function readArtifacts(options: AttestOptions): Promise<ArtifactJson[]> {
  const digests = pairs(options.sha256, '--sha256');
  const sizes = pairs(options.bytes, '--bytes');
  const artifacts: ArtifactJson[] = [];
  for (const [name, where] of pairs(options.artifact, '--artifact')) {
    const isUri = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(where);
    if (!isUri || where.startsWith('file://')) {
      const path = isUri ? fileURLToPath(where) : resolve(where);
      if (!existsSync(path) || !statSync(path).isFile()) {
        throw new CliError(`--artifact ${name}=${where}: there is no file at ${path}. For a remote artifact give its URI with --sha256 ${name}=HEX --bytes ${name}=N.`, EXIT.invalidInput);
      }
      const { sha256, bytes } = await hashFile(path);
      artifacts.push({ name, uri: pathToFileURL(path).href, sha256, bytes });
      continue;
    }
    const sha256 = digests.get(name);
    const bytes = sizes.get(name);
    if (!sha256 || bytes === undefined) {
      throw new CliError(`--artifact ${name}=${where} is remote: stepgate cannot hash it, so give --sha256 ${name}=HEX and --bytes ${name}=N.`, EXIT.invalidInput);
    }
    if (!/^\d+$/.test(bytes)) throw new CliError(`--bytes ${name}=${bytes}: expected a whole number of bytes`, EXIT.invalidInput);
    artifacts.push({ name, uri: where, sha256, bytes: Number(bytes) });
  }
  for (const name of [...digests.keys(), ...sizes.keys()]) {
    if (!artifacts.some((a) => a.name === name)) throw new CliError(`--sha256/--bytes name "${name}", which no --artifact has`, EXIT.invalidInput);
  }
  return artifacts;
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

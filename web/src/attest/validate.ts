/**
 * The attest form's checks, mirroring the API's 422s (src/http/routes/attestations.ts):
 * a URI with a scheme, 64 hex characters of sha256, a whole number of bytes ≥ 0, and on
 * SUCCESS an artifact for every declared output. Field keys are the form's, so a message shows
 * next to its field; `serverPathToField` maps the API's `errors[].path` the same way.
 */

export interface ArtifactDraft {
  readonly name: string;
  readonly uri: string;
  readonly sha256: string;
  /** A whole number, or undefined until a file was hashed. */
  readonly bytes: number | undefined;
}

export interface AttestDraft {
  readonly outcome: 'SUCCESS' | 'FAIL' | '';
  readonly notes: string;
  /** Only asked when authentication is off (SPEC §10): then the API needs it. */
  readonly attestedBy?: string;
  readonly artifacts: readonly ArtifactDraft[];
}

export type FieldErrors = Record<string, string>;

/** `uri:<name>`, `file:<name>`, `outcome`, `notes`, `attested_by`. */
export const fieldKey = {
  uri: (name: string) => `uri:${name}`,
  file: (name: string) => `file:${name}`,
};

const URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;
export const NOTES_MAX = 100_000;

export function validateAttestation(draft: AttestDraft, options: { requireAttestedBy: boolean }): FieldErrors {
  const errors: FieldErrors = {};
  if (draft.outcome !== 'SUCCESS' && draft.outcome !== 'FAIL') errors.outcome = 'Choose the outcome: SUCCESS or FAIL.';
  if (draft.notes.length > NOTES_MAX) errors.notes = `Notes are limited to ${NOTES_MAX} characters.`;
  if (options.requireAttestedBy && !draft.attestedBy?.trim()) errors.attested_by = 'Say who attests (a name or an id): this server has authentication off.';
  for (const artifact of draft.artifacts) {
    const started = artifact.uri.trim() !== '' || artifact.sha256 !== '';
    if (!started) {
      if (draft.outcome === 'SUCCESS') {
        errors[fieldKey.file(artifact.name)] = `On SUCCESS every declared output needs an artifact: choose the file for ${artifact.name}.`;
        errors[fieldKey.uri(artifact.name)] = `Give the URI where ${artifact.name} is kept (e.g. file:///data/${artifact.name} or s3://bucket/key).`;
      }
      continue;
    }
    if (!URI.test(artifact.uri.trim())) {
      errors[fieldKey.uri(artifact.name)] = 'Expected a URI with a scheme, e.g. file:///data/forecast.csv or s3://bucket/key.';
    }
    if (!SHA256.test(artifact.sha256)) {
      errors[fieldKey.file(artifact.name)] = `Choose the file for ${artifact.name} so its sha256 and size are computed.`;
    } else if (artifact.bytes === undefined || !Number.isInteger(artifact.bytes) || artifact.bytes < 0) {
      errors[fieldKey.file(artifact.name)] = 'Expected a whole number of bytes, 0 or more.';
    }
  }
  return errors;
}

/** Only the artifacts the operator gave (an untouched optional output is left out). */
export function artifactsToSend(draft: AttestDraft): Array<{ name: string; uri: string; sha256: string; bytes: number }> {
  return draft.artifacts
    .filter((a) => a.uri.trim() !== '' || a.sha256 !== '')
    .map((a) => ({ name: a.name, uri: a.uri.trim(), sha256: a.sha256.toLowerCase(), bytes: a.bytes ?? 0 }));
}

/**
 * The API's 422 `errors[].path` (e.g. `artifacts[1].sha256`, `artifacts`, `outcome`) → the form
 * field it belongs to. `sent` is the artifacts array as sent, to find the name behind an index.
 */
export function serverPathToField(path: string, message: string, sent: ReadonlyArray<{ name: string }>): string | undefined {
  if (path === 'artifacts') {
    const output = /output "([^"]+)"/.exec(message)?.[1];
    return output === undefined ? undefined : fieldKey.file(output);
  }
  const artifact = /^artifacts\[(\d+)\]\.?(\w*)/.exec(path);
  if (artifact) {
    const name = sent[Number(artifact[1])]?.name;
    if (name === undefined) return undefined;
    return artifact[2] === 'uri' || artifact[2] === 'name' ? fieldKey.uri(name) : fieldKey.file(name);
  }
  const head = path.split(/[.[]/)[0];
  if (head === 'outcome' || head === 'notes' || head === 'attested_by') return head;
  return undefined;
}

import { useState } from 'preact/hooks';
import { ApiError } from '../api/client.js';
import type { AttestBody, Run } from '../api/types.js';
import { useApp } from '../hooks.js';
import type { Digest } from '../hash/sha256-file.js';
import { ErrorBox } from '../components/ui.js';
import { FileField } from './FileField.js';
import { artifactsToSend, fieldKey, serverPathToField, validateAttestation, type AttestDraft, type FieldErrors } from './validate.js';

/**
 * The attest form of SPEC §14: `Outcome`, `Notes`, and per declared output `File for <name>`
 * and `URI for <name>`; checks that mirror the API's 422s before sending, and the server's
 * 422s shown next to the field they concern.
 */
export function AttestForm(props: { runId: string; stepRunId: string; stepKey: string; outputs: readonly string[]; onAttested: (run: Run) => void }) {
  const { session, client } = useApp();
  const [outcome, setOutcome] = useState<AttestDraft['outcome']>('SUCCESS');
  const [notes, setNotes] = useState('');
  const [attestedBy, setAttestedBy] = useState(session.name);
  const [uris, setUris] = useState<Record<string, string>>({});
  const [digests, setDigests] = useState<Record<string, Digest | undefined>>({});
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const draft = (): AttestDraft => ({
    outcome,
    notes,
    attestedBy,
    artifacts: props.outputs.map((name) => ({ name, uri: uris[name] ?? '', sha256: digests[name]?.sha256 ?? '', bytes: digests[name]?.bytes })),
  });

  const submit = async (event: Event) => {
    event.preventDefault();
    setFormError(undefined);
    const current = draft();
    const found = validateAttestation(current, { requireAttestedBy: session.authOff });
    setErrors(found);
    if (Object.keys(found).length > 0) {
      setFormError('The attestation is not complete: see the fields marked below.');
      focusFirstInvalid();
      return;
    }
    const body: AttestBody = {
      outcome: current.outcome as 'SUCCESS' | 'FAIL',
      notes: notes.trim() === '' ? null : notes,
      artifacts: artifactsToSend(current),
      ...(session.authOff ? { attested_by: attestedBy.trim() } : { attested_by: session.name }),
    };
    setBusy(true);
    try {
      const run = await client.post<Run>(`/api/runs/${props.runId}/steps/${props.stepRunId}/attest`, body);
      props.onAttested(run);
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) {
        const byField: FieldErrors = {};
        const unplaced: string[] = [];
        for (const issue of err.problem?.errors ?? []) {
          const field = serverPathToField(issue.path, issue.message, body.artifacts);
          if (field) byField[field] = issue.message;
          else unplaced.push(`${issue.path}: ${issue.message}`);
        }
        setErrors(byField);
        setFormError(unplaced.length > 0 ? `${err.message} ${unplaced.join('; ')}` : err.message);
        focusFirstInvalid();
      } else {
        setFormError((err as Error).message);
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="attest-form" noValidate onSubmit={(e) => void submit(e)} aria-labelledby={`attest-${props.stepRunId}`}>
      <h3 id={`attest-${props.stepRunId}`}>Attest {props.stepKey}</h3>
      <div class="field">
        <label for="attest-outcome">Outcome</label>
        <select id="attest-outcome" value={outcome} aria-invalid={errors.outcome ? true : undefined} aria-describedby={errors.outcome ? 'attest-outcome-error' : undefined} onChange={(e) => setOutcome((e.currentTarget as HTMLSelectElement).value as AttestDraft['outcome'])}>
          <option value="SUCCESS">SUCCESS: the work is done, here are its outputs</option>
          <option value="FAIL">FAIL: the work failed (the run ends in error)</option>
        </select>
        <FieldError id="attest-outcome" message={errors.outcome} />
      </div>
      {session.authOff && (
        <div class="field">
          <label for="attest-by">Attested by</label>
          <input id="attest-by" type="text" autoComplete="name" value={attestedBy} aria-invalid={errors.attested_by ? true : undefined} aria-describedby={errors.attested_by ? 'attest-by-error' : undefined} onInput={(e) => setAttestedBy((e.currentTarget as HTMLInputElement).value)} />
          <FieldError id="attest-by" message={errors.attested_by} />
        </div>
      )}
      <div class="field">
        <label for="attest-notes">Notes</label>
        <textarea id="attest-notes" rows={3} value={notes} aria-invalid={errors.notes ? true : undefined} aria-describedby={errors.notes ? 'attest-notes-error' : undefined} onInput={(e) => setNotes((e.currentTarget as HTMLTextAreaElement).value)} />
        <FieldError id="attest-notes" message={errors.notes} />
      </div>
      {props.outputs.map((name) => (
        <fieldset class="output" key={name}>
          <legend>Output {name}</legend>
          <FileField output={name} error={errors[fieldKey.file(name)]} digest={digests[name]} onDigest={(digest) => setDigests((d) => ({ ...d, [name]: digest }))} />
          <div class="field">
            <label for={`uri-${name}`}>URI for {name}</label>
            <input
              id={`uri-${name}`}
              type="text"
              inputMode="url"
              placeholder={`file:///data/${name} or s3://bucket/key`}
              value={uris[name] ?? ''}
              aria-invalid={errors[fieldKey.uri(name)] ? true : undefined}
              aria-describedby={errors[fieldKey.uri(name)] ? `uri-${name}-error` : undefined}
              onInput={(e) => setUris((u) => ({ ...u, [name]: (e.currentTarget as HTMLInputElement).value }))}
            />
            <FieldError id={`uri-${name}`} message={errors[fieldKey.uri(name)]} />
          </div>
        </fieldset>
      ))}
      <ErrorBox error={formError} />
      <button type="submit" class="primary" disabled={busy}>
        Attest
      </button>
    </form>
  );
}

function FieldError({ id, message }: { id: string; message: string | undefined }) {
  if (!message) return null;
  return (
    <p id={`${id}-error`} class="field-error">
      {message}
    </p>
  );
}

function focusFirstInvalid() {
  requestAnimationFrame(() => document.querySelector<HTMLElement>('.attest-form [aria-invalid="true"]')?.focus());
}

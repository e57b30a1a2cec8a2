import { describe, expect, it } from 'vitest';
import { artifactsToSend, fieldKey, serverPathToField, validateAttestation, type AttestDraft } from '../web/src/attest/validate.js';

const SHA = 'a'.repeat(64);
const complete: AttestDraft = {
  outcome: 'SUCCESS',
  notes: 'done',
  artifacts: [
    { name: 'forecast_csv', uri: 'file:///data/forecast.csv', sha256: SHA, bytes: 24 },
    { name: 'workbook', uri: 's3://bucket/q3.xlsx', sha256: 'B'.repeat(64), bytes: 0 },
  ],
};

describe("the attest form's checks", () => {
  it('accept a complete SUCCESS and send every artifact, sha256 lower-cased', () => {
    expect(validateAttestation(complete, { requireAttestedBy: false })).toEqual({});
    expect(artifactsToSend(complete)).toEqual([
      { name: 'forecast_csv', uri: 'file:///data/forecast.csv', sha256: SHA, bytes: 24 },
      { name: 'workbook', uri: 's3://bucket/q3.xlsx', sha256: 'b'.repeat(64), bytes: 0 },
    ]);
  });

  it('on SUCCESS need a file and a URI for every declared output, like the API', () => {
    const draft = { ...complete, artifacts: [complete.artifacts[0]!, { name: 'workbook', uri: '', sha256: '', bytes: undefined }] };
    const errors = validateAttestation(draft, { requireAttestedBy: false });
    expect(Object.keys(errors).sort()).toEqual([fieldKey.file('workbook'), fieldKey.uri('workbook')]);
    expect(errors[fieldKey.file('workbook')]).toContain('every declared output needs an artifact');
  });

  it('on FAIL accept outputs left out, and send only those given', () => {
    const draft: AttestDraft = { ...complete, outcome: 'FAIL', artifacts: [complete.artifacts[0]!, { name: 'workbook', uri: '', sha256: '', bytes: undefined }] };
    expect(validateAttestation(draft, { requireAttestedBy: false })).toEqual({});
    expect(artifactsToSend(draft).map((a) => a.name)).toEqual(['forecast_csv']);
  });

  it('refuse a URI without a scheme, a file not hashed yet, a missing outcome, over-long notes', () => {
    const draft: AttestDraft = {
      outcome: '',
      notes: 'x'.repeat(100_001),
      artifacts: [
        { name: 'forecast_csv', uri: '/data/forecast.csv', sha256: SHA, bytes: 24 },
        { name: 'workbook', uri: 's3://bucket/q3.xlsx', sha256: '', bytes: undefined },
      ],
    };
    const errors = validateAttestation(draft, { requireAttestedBy: false });
    expect(errors.outcome).toContain('SUCCESS or FAIL');
    expect(errors.notes).toContain('100000');
    expect(errors[fieldKey.uri('forecast_csv')]).toContain('URI with a scheme');
    expect(errors[fieldKey.file('workbook')]).toContain('Choose the file for workbook');
  });

  it('refuse a size that is not a whole number of bytes', () => {
    for (const bytes of [-1, 1.5]) {
      const draft = { ...complete, artifacts: [{ ...complete.artifacts[0]!, bytes }, complete.artifacts[1]!] };
      expect(validateAttestation(draft, { requireAttestedBy: false })[fieldKey.file('forecast_csv')]).toContain('whole number of bytes');
    }
  });

  it('ask who attests only when authentication is off', () => {
    expect(validateAttestation({ ...complete, attestedBy: ' ' }, { requireAttestedBy: true }).attested_by).toContain('authentication off');
    expect(validateAttestation({ ...complete, attestedBy: 'ana' }, { requireAttestedBy: true })).toEqual({});
    expect(validateAttestation({ ...complete, attestedBy: '' }, { requireAttestedBy: false })).toEqual({});
  });

  it("place the API's 422 errors next to their field", () => {
    const sent = [{ name: 'forecast_csv' }, { name: 'workbook' }];
    expect(serverPathToField('artifacts[1].sha256', 'expected 64 hexadecimal characters', sent)).toBe(fieldKey.file('workbook'));
    expect(serverPathToField('artifacts[1].bytes', 'expected a whole number of bytes', sent)).toBe(fieldKey.file('workbook'));
    expect(serverPathToField('artifacts[0].uri', 'expected a URI with a scheme', sent)).toBe(fieldKey.uri('forecast_csv'));
    expect(serverPathToField('artifacts', 'the contract declares the output "workbook": on SUCCESS it needs an artifact named "workbook" (found none)', sent)).toBe(fieldKey.file('workbook'));
    expect(serverPathToField('outcome', 'expected one of', sent)).toBe('outcome');
    expect(serverPathToField('attested_by', 'differs from the token', sent)).toBe('attested_by');
    expect(serverPathToField('artifacts[7].uri', 'x', sent)).toBeUndefined();
    expect(serverPathToField('', 'x', sent)).toBeUndefined();
  });
});

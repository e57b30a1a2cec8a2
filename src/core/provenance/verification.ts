/**
 * Digest verification at attest time (SPEC §13): what the server found when it looked at an
 * artifact itself. Each code is stored in `compute_artifacts.verification`; only
 * `digest_matched` comes with `verified: true` (a CHECK constraint holds the two together).
 */
export const VERIFICATION_CODES = {
  digest_matched: 'the server hashed the file under STEPGATE_ARTIFACT_ROOTS: sha256 and bytes match',
  no_artifact_roots: 'not verified: the server has no STEPGATE_ARTIFACT_ROOTS to read file:// artifacts from',
  outside_artifact_roots: 'not verified: the file is not under any of STEPGATE_ARTIFACT_ROOTS (after resolving symbolic links)',
  file_not_found: 'not verified: no file at this path under STEPGATE_ARTIFACT_ROOTS',
  not_a_regular_file: 'not verified: the path is not a regular file',
  unreadable: 'not verified: the server could not read the file',
  scheme_not_verified: 'not verified: the server verifies file:// artifacts only; this scheme is recorded as attested',
  recorded_before_verification: 'not verified: attested before stepgate verified digests',
} as const;

export type VerificationCode = keyof typeof VERIFICATION_CODES;

export interface ArtifactClaim {
  readonly name: string;
  readonly uri: string;
  readonly sha256: string;
  readonly bytes: number;
}

/** What the verifier found for one artifact. A mismatch is not a result: it refuses the attestation. */
export type ArtifactCheck =
  | { readonly kind: 'checked'; readonly verified: boolean; readonly verification: VerificationCode }
  | { readonly kind: 'mismatch'; readonly field: 'sha256' | 'bytes'; readonly claimed: string | number; readonly found: string | number };

/** The port: looks at artifacts where it can reach them (providers/artifacts implements it). */
export interface ArtifactVerifier {
  check(artifact: ArtifactClaim): Promise<ArtifactCheck>;
}

/** Without a verifier (no STEPGATE_ARTIFACT_ROOTS): nothing is verified, and the reason says why. */
export const noRootsVerifier: ArtifactVerifier = {
  async check(artifact) {
    return { kind: 'checked', verified: false, verification: /^file:/i.test(artifact.uri) ? 'no_artifact_roots' : 'scheme_not_verified' };
  },
};

/** Checks each artifact in turn; mismatches become the issues of a 422 naming the artifact. */
export async function checkArtifacts(verifier: ArtifactVerifier, artifacts: readonly ArtifactClaim[]) {
  const results: Array<{ verified: boolean; verification: VerificationCode }> = [];
  const mismatches: Array<{ path: string; message: string }> = [];
  for (const [i, artifact] of artifacts.entries()) {
    const check = await verifier.check(artifact);
    if (check.kind === 'checked') results.push({ verified: check.verified, verification: check.verification });
    else {
      mismatches.push({
        path: `artifacts[${i}].${check.field}`,
        message:
          check.field === 'bytes'
            ? `artifact "${artifact.name}" (${artifact.uri}): the attestation says ${check.claimed} bytes, the file has ${check.found}`
            : `artifact "${artifact.name}" (${artifact.uri}): the attestation says sha256 ${check.claimed}, the file's sha256 is ${check.found}`,
      });
      results.push({ verified: false, verification: 'unreadable' });
    }
  }
  return { results, mismatches };
}

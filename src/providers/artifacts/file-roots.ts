import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArtifactCheck, ArtifactClaim, ArtifactVerifier } from '../../core/provenance/verification.js';
import { hashHandle } from './hash-file.js';

/**
 * Digest verification at attest time (SPEC §13): a `file://` artifact whose file lies under
 * one of `roots` (STEPGATE_ARTIFACT_ROOTS) is hashed here, streamed, and compared with what
 * the operator attested. "Under" is decided on real paths (symbolic links and `..`
 * resolved), so a link inside a root that points outside it is outside. The file is opened
 * once, by its real path, and measured and hashed through that one handle.
 */
export function createFileRootVerifier(roots: readonly string[]): ArtifactVerifier {
  // Resolved on every check (a handful of realpath calls): a root created or relinked after
  // start-up is seen as it is now.
  const resolvedRoots = () => Promise.all(roots.map((root) => realpath(resolve(root)).catch(() => resolve(root))));

  return {
    async check(artifact: ArtifactClaim): Promise<ArtifactCheck> {
      if (!/^file:/i.test(artifact.uri)) return { kind: 'checked', verified: false, verification: 'scheme_not_verified' };
      if (roots.length === 0) return { kind: 'checked', verified: false, verification: 'no_artifact_roots' };
      let path: string;
      try {
        path = fileURLToPath(artifact.uri); // refuses file://other-host/… and encoded slashes
      } catch {
        return { kind: 'checked', verified: false, verification: 'outside_artifact_roots' };
      }
      let real: string;
      try {
        real = await realpath(path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') {
          const candidates = [...(await resolvedRoots()), ...roots.map((root) => resolve(root))];
          const underARoot = candidates.some((root) => isInside(root, resolve(path)));
          return { kind: 'checked', verified: false, verification: underARoot ? 'file_not_found' : 'outside_artifact_roots' };
        }
        return { kind: 'checked', verified: false, verification: 'unreadable' };
      }
      if (!(await resolvedRoots()).some((root) => isInside(root, real))) return { kind: 'checked', verified: false, verification: 'outside_artifact_roots' };

      let handle;
      try {
        // Non-blocking, so that a FIFO planted under a root cannot hold the request open.
        handle = await open(real, constants.O_RDONLY | constants.O_NONBLOCK);
      } catch {
        return { kind: 'checked', verified: false, verification: 'unreadable' };
      }
      try {
        const stat = await handle.stat();
        if (!stat.isFile()) return { kind: 'checked', verified: false, verification: 'not_a_regular_file' };
        if (stat.size !== artifact.bytes) return { kind: 'mismatch', field: 'bytes', claimed: artifact.bytes, found: stat.size };
        const found = await hashHandle(handle);
        if (found.bytes !== artifact.bytes) return { kind: 'mismatch', field: 'bytes', claimed: artifact.bytes, found: found.bytes };
        if (found.sha256 !== artifact.sha256) return { kind: 'mismatch', field: 'sha256', claimed: artifact.sha256, found: found.sha256 };
        return { kind: 'checked', verified: true, verification: 'digest_matched' };
      } catch {
        return { kind: 'checked', verified: false, verification: 'unreadable' };
      } finally {
        await handle.close();
      }
    },
  };
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

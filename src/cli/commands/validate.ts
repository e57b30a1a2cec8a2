import { readFileSync } from 'node:fs';
import { isStepgateError } from '../../core/errors.js';
import { DEFAULT_LIMITS } from '../../core/limits.js';
import { parseManifestSource } from '../../core/manifest/parse.js';
import { validateManifest } from '../../core/manifest/validate.js';
import { EXIT } from '../exit-codes.js';
import type { Output } from '../output.js';

interface FileReport {
  file: string;
  valid: boolean;
  errors: Array<{ path: string; message: string; line: number | null; column: number | null }>;
}

/**
 * `stepgate validate FILE…` — offline: the server's rules and messages (a 422 lists the same
 * problems), located as file:line:column in the YAML/JSON source.
 */
export function validateCommand(files: string[], out: Output, providers: readonly string[]): number {
  const reports: FileReport[] = files.map((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      return { file, valid: false, errors: [{ path: '', message: `cannot read the file: ${(err as Error).message}`, line: null, column: null }] };
    }
    try {
      const source = parseManifestSource(text, { maxDepth: DEFAULT_LIMITS.maxDepth });
      const result = validateManifest(source.value, { providers });
      if (result.ok) return { file, valid: true, errors: [] };
      return {
        file,
        valid: false,
        errors: result.issues.map((issue) => {
          const at = source.locate(issue.path);
          return { ...issue, line: at?.line ?? null, column: at?.column ?? null };
        }),
      };
    } catch (err) {
      if (!isStepgateError(err)) throw err;
      const position = /line (\d+), column (\d+)/.exec(err.message);
      return { file, valid: false, errors: [{ path: '', message: err.message, line: position ? Number(position[1]) : null, column: position ? Number(position[2]) : null }] };
    }
  });

  if (out.json) out.data({ valid: reports.every((r) => r.valid), files: reports });
  else {
    for (const report of reports) {
      if (report.valid) {
        out.line(`${report.file}: ${out.style('green', 'valid')}`);
        continue;
      }
      for (const error of report.errors) {
        const where = error.line === null ? report.file : `${report.file}:${error.line}:${error.column}`;
        out.line(`${where}: ${out.style('red', 'error')} ${error.path ? `${error.path}: ` : ''}${error.message}`);
      }
    }
  }
  return reports.every((r) => r.valid) ? EXIT.ok : EXIT.invalidInput;
}

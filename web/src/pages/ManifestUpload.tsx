import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import { parseManifestSource } from '../../../src/core/manifest/parse.js';
import { ApiError } from '../api/client.js';
import type { Manifest } from '../api/types.js';
import { ErrorBox } from '../components/ui.js';
import { useApp } from '../hooks.js';

interface LineProblem {
  readonly line: number | undefined;
  readonly path: string;
  readonly message: string;
}

/**
 * Problems of a refused manifest placed at their line: a 422's `errors[].path` located in the
 * text with the same parser the server and `stepgate validate` use; a 400's "line N" as said.
 */
export function locateProblems(text: string, error: ApiError): LineProblem[] {
  const issues = error.problem?.errors;
  if (!issues || issues.length === 0) {
    const line = /line (\d+)/.exec(error.message)?.[1];
    return [{ line: line ? Number(line) : undefined, path: '', message: error.message }];
  }
  let locate: (path: string) => { line: number } | undefined = () => undefined;
  try {
    locate = parseManifestSource(text).locate;
  } catch {
    // the server parsed it, so this does not happen; without positions the list still shows
  }
  return issues.map((issue) => ({ line: locate(issue.path)?.line, path: issue.path, message: issue.message }));
}

/** Upload a manifest (YAML or JSON, pasted or from a file); problems shown inline at their line. */
export function ManifestUpload({ onStored }: { onStored: () => void }) {
  const { client } = useApp();
  const location = useLocation();
  const [text, setText] = useState('');
  const [problems, setProblems] = useState<LineProblem[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const send = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setProblems(undefined);
    setError(undefined);
    const contentType = text.trimStart().startsWith('{') ? 'application/json' : 'application/yaml';
    try {
      const manifest = await client.post<Manifest>('/api/manifests', text, contentType);
      onStored();
      location.route(`/manifests/${manifest.id}`);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 422 || err.status === 400)) setProblems(locateProblems(text, err));
      else setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const lines = text.split('\n');
  const byLine = new Map<number, LineProblem[]>();
  for (const p of problems ?? []) if (p.line !== undefined) byLine.set(p.line, [...(byLine.get(p.line) ?? []), p]);
  const unplaced = (problems ?? []).filter((p) => p.line === undefined);

  return (
    <section aria-labelledby="upload-title">
      <h2 id="upload-title">Upload a manifest</h2>
      <form onSubmit={(e) => void send(e)}>
        <div class="field">
          <label for="manifest-file">Manifest file</label>
          <input id="manifest-file" type="file" accept=".yaml,.yml,.json,application/json,application/yaml" onChange={(e) => void (e.currentTarget as HTMLInputElement).files?.[0]?.text().then(setText)} />
        </div>
        <div class="field">
          <label for="manifest-text">Manifest (YAML or JSON)</label>
          <textarea id="manifest-text" rows={12} spellcheck={false} class="code" value={text} onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} />
        </div>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy || text.trim() === ''}>
          Upload manifest
        </button>
      </form>
      {problems && (
        <div class="problems" role="alert" aria-label="Problems in the manifest">
          <p>
            The manifest was refused: {problems.length} problem{problems.length === 1 ? '' : 's'}.
          </p>
          {unplaced.map((p, i) => (
            <p key={i} class="field-error">
              {p.path ? `${p.path}: ` : ''}
              {p.message}
            </p>
          ))}
          <ol class="source">
            {lines.map((line, i) => (
              <li key={i} class={byLine.has(i + 1) ? 'has-problem' : undefined}>
                <code>{line || ' '}</code>
                {byLine.get(i + 1)?.map((p, j) => (
                  <p key={j} class="line-problem">
                    line {i + 1}: {p.path ? `${p.path}: ` : ''}
                    {p.message}
                  </p>
                ))}
              </li>
            ))}
          </ol>
        </div>
      )}
    </section>
  );
}


import { useRef, useState } from 'preact/hooks';
import { bytes as formatBytes } from '../format.js';
import { hashBlob, type Digest } from '../hash/sha256-file.js';

/**
 * `File for <output>`: a file input that is also a drop target. The file is hashed here, in
 * the browser, a chunk at a time (nothing is uploaded), with a progress bar.
 */
export function FileField(props: { output: string; error: string | undefined; digest: Digest | undefined; onDigest: (digest: Digest | undefined, fileName?: string) => void }) {
  const [progress, setProgress] = useState<{ done: number; total: number } | undefined>();
  const [hashError, setHashError] = useState<string | undefined>();
  const [fileName, setFileName] = useState<string | undefined>();
  const [over, setOver] = useState(false);
  const abort = useRef<AbortController | undefined>(undefined);
  const id = `file-${props.output}`;
  const errorId = `${id}-error`;

  const take = async (file: File | undefined) => {
    abort.current?.abort();
    setHashError(undefined);
    props.onDigest(undefined);
    setFileName(file?.name);
    if (!file) return;
    const controller = new AbortController();
    abort.current = controller;
    try {
      const digest = await hashBlob(file, { signal: controller.signal, onProgress: (done, total) => setProgress({ done, total }) });
      if (!controller.signal.aborted) props.onDigest(digest, file.name);
    } catch (err) {
      if (!controller.signal.aborted) setHashError(`Could not read ${file.name}: ${(err as Error).message}`);
    } finally {
      if (abort.current === controller) setProgress(undefined);
    }
  };

  const message = hashError ?? props.error;
  return (
    <div
      class={`field drop${over ? ' over' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        void take(e.dataTransfer?.files[0]);
      }}
    >
      <label for={id}>File for {props.output}</label>
      <input id={id} type="file" aria-invalid={message ? true : undefined} aria-describedby={message ? errorId : undefined} onChange={(e) => void take((e.currentTarget as HTMLInputElement).files?.[0])} />
      <p class="hint">Drop the file here or choose it: its sha256 and size are computed in this browser; the file is not uploaded.</p>
      {progress && (
        <p class="progress">
          <label for={`${id}-progress`}>Hashing {fileName}</label>
          <progress id={`${id}-progress`} max={progress.total || 1} value={progress.done} />
          <span>
            {formatBytes(progress.done)} of {formatBytes(progress.total)}
          </span>
        </p>
      )}
      {props.digest && (
        <dl class="digest" aria-label={`Digest of ${props.output}`}>
          <dt>sha256</dt>
          <dd>
            <code>{props.digest.sha256}</code>
          </dd>
          <dt>bytes</dt>
          <dd>
            {props.digest.bytes} ({formatBytes(props.digest.bytes)})
          </dd>
        </dl>
      )}
      {message && (
        <p id={errorId} class="field-error">
          {message}
        </p>
      )}
    </div>
  );
}

import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { json } from '../format.js';

/** A status as a coloured label; the colour is never the only signal (the text is the status). */
export function Status({ status, extra }: { status: string; extra?: string | undefined }) {
  return (
    <span class={`status status-${status.toLowerCase()}`}>
      {status}
      {extra ? ` · ${extra}` : ''}
    </span>
  );
}

export function ErrorBox({ error }: { error: Error | string | undefined }) {
  if (!error) return null;
  return (
    <p class="error-box" role="alert">
      {typeof error === 'string' ? error : error.message}
    </p>
  );
}

export function Json({ value, label }: { value: unknown; label?: string }) {
  if (value === null || value === undefined) return <p class="muted">none</p>;
  return (
    <pre class="json" tabIndex={0} aria-label={label}>
      {json(value)}
    </pre>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

/**
 * A confirmation in a modal <dialog>: focus moves into it, Escape cancels, the confirming
 * button carries the action's name ("Resume", "Cancel run", …).
 */
export function Confirm(props: { open: boolean; title: string; confirmLabel: string; danger?: boolean; onConfirm: () => void; onClose: () => void; children?: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} class="confirm" aria-labelledby="confirm-title" onClose={props.onClose}>
      <form method="dialog">
        <h2 id="confirm-title">{props.title}</h2>
        {props.children}
        <div class="actions">
          <button type="button" class="secondary" onClick={props.onClose}>
            Keep as is
          </button>
          <button
            type="button"
            class={props.danger ? 'danger' : 'primary'}
            onClick={() => {
              props.onClose();
              props.onConfirm();
            }}
          >
            {props.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

import { useState } from 'preact/hooks';
import type { Run, RunSummary } from '../api/types.js';
import { useApp } from '../hooks.js';
import { atLeast } from '../session.js';
import { Confirm, ErrorBox } from './ui.js';

type Action = 'resume' | 'cancel' | 'retry';

const LABEL: Record<Action, string> = { resume: 'Resume', cancel: 'Cancel run', retry: 'Retry' };
const EXPLAIN: Record<Action, string> = {
  resume: 'Resume continues the run from the database: the steps the attestations unblocked run now.',
  cancel: 'Cancel ends the run: it will not continue, and open steps are cancelled. This cannot be undone.',
  retry: 'Retry gives every failed step a new attempt; steps that succeeded are reused, never rerun.',
};

/** Which lifecycle actions a run offers (SPEC §5, §9). */
export function actionsFor(run: Pick<RunSummary, 'status'> & Partial<Pick<Run, 'stalled'>>): Action[] {
  const actions: Action[] = [];
  if (run.status === 'waiting' || (run.status === 'running' && run.stalled)) actions.push('resume');
  if (run.status === 'error') actions.push('retry');
  if (run.status === 'pending' || run.status === 'running' || run.status === 'waiting') actions.push('cancel');
  return actions;
}

/**
 * Resume, Cancel run and Retry, each behind a confirmation, with the result said out loud
 * (role="status"). Operators and above only: a viewer sees no button.
 */
export function RunActions({ run, onDone }: { run: Run; onDone: (run: Run) => void }) {
  const { session, client } = useApp();
  const [pending, setPending] = useState<Action | undefined>();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  if (!atLeast(session, 'operator')) return null;
  const offered = { resume: true, cancel: session.features.cancel, retry: session.features.retry };
  const actions = actionsFor(run).filter((action) => offered[action]);

  const perform = async (action: Action) => {
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      const body = action === 'cancel' ? {} : undefined;
      const next = await client.post<Run>(`/api/runs/${run.id}/${action}`, body);
      setResult(describe(action, next));
      onDone(next);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="run-actions" aria-label="Run actions">
      {actions.length > 0 && (
        <div class="actions">
          {actions.map((action) => (
            <button type="button" key={action} class={action === 'cancel' ? 'danger' : 'primary'} disabled={busy} onClick={() => setPending(action)}>
              {LABEL[action]}
            </button>
          ))}
        </div>
      )}
      <Confirm
        open={pending !== undefined}
        title={pending ? `${LABEL[pending]}?` : ''}
        confirmLabel={pending ? LABEL[pending] : ''}
        danger={pending === 'cancel'}
        onClose={() => setPending(undefined)}
        onConfirm={() => pending && void perform(pending)}
      >
        <p>{pending ? EXPLAIN[pending] : ''}</p>
      </Confirm>
      {busy && (
        <p role="status" class="muted">
          Working…
        </p>
      )}
      {result && (
        <p role="status" class="success-box">
          {result}
        </p>
      )}
      <ErrorBox error={error} />
    </section>
  );
}

function describe(action: Action, run: Run): string {
  const done = action === 'cancel' ? 'Run cancelled' : action === 'retry' ? 'Retried' : 'Resumed';
  if (run.status === 'success') return `${done}: the run finished with success.`;
  if (run.status === 'waiting') return `${done}: the run waits again, on ${run.waiting_on.map((w) => w.step_key).join(', ')}.`;
  return `${done}: the run is now ${run.status}.`;
}

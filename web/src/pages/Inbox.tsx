import { Fragment } from 'preact';
import type { Inbox as InboxPage, PendingAttestation } from '../api/types.js';
import { ErrorBox, Loading } from '../components/ui.js';
import { readContract } from '../contract.js';
import { ago, json, shortId, when } from '../format.js';
import { useResource } from '../hooks.js';

/** Overdue first, then the oldest wait (SPEC §9); stable for waits without a deadline. */
export function inboxOrder(items: readonly PendingAttestation[]): PendingAttestation[] {
  return [...items].sort((a, b) => Number(Boolean(b.overdue)) - Number(Boolean(a.overdue)) || a.waiting_since.localeCompare(b.waiting_since));
}

/**
 * The operator's inbox: every step waiting for an attestation, with what the operator needs to
 * do the work (executor, instructions, inputs with their upstream values, outputs, due time),
 * and the runs whose waits are all attested, ready to resume.
 */
export function Inbox() {
  // The waits and the runs ready to resume (SPEC §9) come in one answer, read from the waiting rows only.
  const pending = useResource((client) => client.get<InboxPage>('/api/attestations/pending?limit=200'), []);
  const items = inboxOrder(pending.data?.items ?? []);
  const ready = pending.data?.ready_to_resume ?? [];

  return (
    <main id="main">
      <h1>Inbox</h1>
      <ErrorBox error={pending.error} />
      {pending.loading && !pending.data && <Loading what="the inbox" />}
      {ready.length > 0 && (
        <section aria-labelledby="ready-title">
          <h2 id="ready-title">Ready to resume</h2>
          <ul class="cards">
            {ready.map((run) => (
              <li key={run.run_id} class="card ready">
                <a href={`/runs/${run.run_id}`}>Run {shortId(run.run_id)}</a> ({run.manifest.name} v{run.manifest.version}) — every wait is attested; resume it to continue.
              </li>
            ))}
          </ul>
        </section>
      )}
      <section aria-labelledby="waits-title">
        <h2 id="waits-title">Waiting for you ({pending.data?.total ?? 0})</h2>
        {pending.data && items.length === 0 && <p class="muted">Nothing waits for an attestation.</p>}
        <ul class="cards">
          {items.map((item) => (
            <InboxItem key={item.step_run_id} item={item} />
          ))}
        </ul>
      </section>
    </main>
  );
}

function InboxItem({ item }: { item: PendingAttestation }) {
  const contract = readContract(item.contract);
  return (
    <li class={`card wait${item.overdue ? ' overdue' : ''}`} aria-label={`Step ${item.label} of run ${shortId(item.run_id)}`}>
      <div class="card-head">
        <h3>
          <a href={`/runs/${item.run_id}?step=${encodeURIComponent(item.step_key)}${item.item_index === null ? '' : `&item=${item.item_index}`}`}>
            Step {item.label} · {item.manifest.name} v{item.manifest.version}
          </a>
        </h3>
        {item.overdue && <span class="status status-overdue">overdue</span>}
      </div>
      <dl class="facts">
        <dt>Run</dt>
        <dd>
          <a href={`/runs/${item.run_id}`}>{shortId(item.run_id)}</a>
        </dd>
        {item.item_index !== null && (
          <>
            <dt>Item</dt>
            <dd>
              <code>{JSON.stringify(item.item)}</code>
            </dd>
          </>
        )}
        <dt>Waiting since</dt>
        <dd>
          {when(item.waiting_since)} ({ago(item.waiting_since)})
        </dd>
        <dt>Due</dt>
        <dd>{item.due_at ? `${when(item.due_at)} (${ago(item.due_at)})` : 'no deadline'}</dd>
        {contract && (
          <>
            <dt>Executor</dt>
            <dd>{contract.executor}</dd>
            <dt>Outputs</dt>
            <dd>{contract.outputs.map((o) => o.name).join(', ') || 'none'}</dd>
          </>
        )}
      </dl>
      {item.instructions && <p class="instructions">{item.instructions}</p>}
      {item.inputs.length > 0 && (
        <details>
          <summary>Inputs ({item.inputs.length})</summary>
          <dl class="facts">
            {item.inputs.map((input) => (
              <Fragment key={input.name}>
                <dt>
                  {input.name}
                  {input.from ? <span class="muted"> ← {input.from}</span> : null}
                </dt>
                <dd>
                  <pre class="json">{json(input.value)}</pre>
                </dd>
              </Fragment>
            ))}
          </dl>
        </details>
      )}
      {Object.keys(item.upstream).length > 0 && (
        <details>
          <summary>Upstream outputs ({Object.keys(item.upstream).join(', ')})</summary>
          <pre class="json">{json(item.upstream)}</pre>
        </details>
      )}
    </li>
  );
}

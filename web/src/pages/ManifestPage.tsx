import { useRoute } from 'preact-iso';
import type { Manifest } from '../api/types.js';
import { ErrorBox, Json, Loading } from '../components/ui.js';
import { readContract } from '../contract.js';
import { Dag } from '../dag/Dag.js';
import { when } from '../format.js';
import { useResource } from '../hooks.js';

/** A stored manifest: its graph, each step with its prompt or its compute contract. */
export function ManifestPage() {
  const { params } = useRoute();
  const manifest = useResource((client) => client.get<Manifest>(`/api/manifests/${params.id}`), [params.id]);
  if (manifest.error) return <main id="main"><ErrorBox error={manifest.error} /></main>;
  const m = manifest.data;
  if (!m) return <main id="main"><Loading what="the manifest" /></main>;
  return (
    <main id="main">
      <h1>
        {m.name} v{m.version}
      </h1>
      <p class="muted">
        {m.description ? `${m.description} · ` : ''}stored {when(m.created_at)} · <code class="sha">{m.content_hash}</code>
      </p>
      <Dag steps={m.steps.map((s) => ({ key: s.key, dependsOn: s.depends_on, type: s.step_type === 'compute' ? 'compute' : 'task', status: undefined }))} selected={undefined} onSelect={(key) => document.getElementById(`step-${key}`)?.focus()} />
      <h2>Steps</h2>
      {m.steps.map((step) => {
        const contract = readContract(step.compute_contract);
        return (
          <section key={step.id} id={`step-${step.key}`} tabIndex={-1} class="card" aria-label={`Step ${step.key}`}>
            <h3>
              {step.key} <span class="muted">{step.step_type ?? 'task'}</span>
            </h3>
            {step.depends_on.length > 0 && <p>Depends on {step.depends_on.join(', ')}</p>}
            {step.prompt !== null && <Json value={step.prompt} label={`Prompt of ${step.key}`} />}
            {step.model && <p>Model {step.model}</p>}
            {contract && (
              <dl class="facts">
                <dt>Executor</dt>
                <dd>{contract.executor}</dd>
                <dt>Inputs</dt>
                <dd>{contract.inputs.map((i) => (i.from ? `${i.name} ← ${i.from}` : i.name)).join(', ') || 'none'}</dd>
                <dt>Outputs</dt>
                <dd>{contract.outputs.map((o) => o.name).join(', ') || 'none'}</dd>
                {contract.instructions && (
                  <>
                    <dt>Instructions</dt>
                    <dd>{contract.instructions}</dd>
                  </>
                )}
              </dl>
            )}
          </section>
        );
      })}
    </main>
  );
}

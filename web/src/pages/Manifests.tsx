import type { ManifestSummary } from '../api/types.js';
import { ErrorBox, Loading } from '../components/ui.js';
import { ago, when } from '../format.js';
import { useApp, usePages } from '../hooks.js';
import { atLeast } from '../session.js';
import { ManifestUpload } from './ManifestUpload.js';

export function Manifests() {
  const { session } = useApp();
  const manifests = usePages<ManifestSummary>('/api/manifests?limit=100', []);
  return (
    <main id="main">
      <h1>Manifests</h1>
      <ErrorBox error={manifests.error} />
      {manifests.loading && !manifests.items && <Loading what="manifests" />}
      {manifests.items && manifests.items.length === 0 && <p class="muted">No manifest is stored yet.</p>}
      <ul class="rows">
        {manifests.items?.map((m) => (
          <li key={m.id} class="row">
            <a href={`/manifests/${m.id}`}>
              {m.name} v{m.version}
            </a>
            <span>{m.description ?? ''}</span>
            <span class="muted" title={when(m.created_at)}>
              stored {ago(m.created_at)}
            </span>
          </li>
        ))}
      </ul>
      {manifests.hasMore && (
        <button type="button" class="more" disabled={manifests.loading} onClick={() => void manifests.more()}>
          Older manifests
        </button>
      )}
      {atLeast(session, 'author') && <ManifestUpload onStored={() => void manifests.reload()} />}
    </main>
  );
}

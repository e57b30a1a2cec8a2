import type { ManifestSummary, Page } from '../api/types.js';
import { ErrorBox, Loading } from '../components/ui.js';
import { ago, when } from '../format.js';
import { useApp, useResource } from '../hooks.js';
import { atLeast } from '../session.js';
import { ManifestUpload } from './ManifestUpload.js';

export function Manifests() {
  const { session } = useApp();
  const manifests = useResource((client) => client.get<Page<ManifestSummary>>('/api/manifests?limit=200'), []);
  return (
    <main id="main">
      <h1>Manifests</h1>
      <ErrorBox error={manifests.error} />
      {manifests.loading && !manifests.data && <Loading what="manifests" />}
      {manifests.data && manifests.data.items.length === 0 && <p class="muted">No manifest is stored yet.</p>}
      <ul class="rows">
        {manifests.data?.items.map((m) => (
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
      {atLeast(session, 'author') && <ManifestUpload onStored={() => void manifests.reload()} />}
    </main>
  );
}

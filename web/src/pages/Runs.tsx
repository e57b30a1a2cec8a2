import { useLocation } from 'preact-iso';
import { RUN_FILTERS, type RunSummary } from '../api/types.js';
import { ErrorBox, Loading, Status } from '../components/ui.js';
import { ago, shortId, when } from '../format.js';
import { usePages } from '../hooks.js';

/** Runs, newest first, filtered by status (including `stalled`, SPEC §9), a page at a time (by cursor). */
export function Runs() {
  const location = useLocation();
  const status = location.query.status ?? '';
  const runs = usePages<RunSummary>(`/api/runs?limit=50${status ? `&status=${encodeURIComponent(status)}` : ''}`, []);
  return (
    <main id="main">
      <h1>Runs</h1>
      <div class="field inline">
        <label for="status-filter">Status</label>
        <select id="status-filter" value={status} onChange={(e) => location.route(`/runs${(e.currentTarget as HTMLSelectElement).value ? `?status=${(e.currentTarget as HTMLSelectElement).value}` : ''}`)}>
          <option value="">all</option>
          {RUN_FILTERS.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <ErrorBox error={runs.error} />
      {runs.loading && !runs.items && <Loading what="runs" />}
      {runs.items && runs.items.length === 0 && <p class="muted">No run{status ? ` is ${status}` : ' yet'}.</p>}
      <ul class="rows">
        {runs.items?.map((run) => (
          <li key={run.id} class="row">
            <a href={`/runs/${run.id}`}>Run {shortId(run.id)}</a>
            <Status status={run.stalled ? 'stalled' : run.status} extra={run.ready_to_resume ? 'ready to resume' : undefined} />
            <span class="muted" title={when(run.created_at)}>
              started {ago(run.created_at)}
            </span>
          </li>
        ))}
      </ul>
      {runs.hasMore && (
        <button type="button" class="more" disabled={runs.loading} onClick={() => void runs.more()}>
          Older runs
        </button>
      )}
    </main>
  );
}

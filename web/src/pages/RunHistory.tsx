import type { Run } from '../api/types.js';
import { when } from '../format.js';

interface Entry {
  readonly at: string;
  readonly text: string;
}

/** The run's history as its rows tell it: each step run's start and end, each attestation. */
export function runHistory(run: Run): Entry[] {
  const entries: Entry[] = [];
  if (run.started_at) entries.push({ at: run.started_at, text: 'Run started' });
  for (const s of run.step_runs) {
    const attempt = s.attempt > 1 ? ` (attempt ${s.attempt})` : '';
    entries.push({ at: s.started_at, text: s.status === 'WAITING_FOR_ATTESTATION' || s.step_type === 'compute' ? `${s.step_key}${attempt} waits for an attestation` : `${s.step_key}${attempt} started` });
    if (s.attestation) entries.push({ at: s.attestation.attested_at, text: `${s.step_key} attested ${s.attestation.outcome} by ${s.attestation.attested_by}` });
    if (s.ended_at) entries.push({ at: s.ended_at, text: `${s.step_key}${attempt} ended ${s.status}` });
  }
  if (run.ended_at) entries.push({ at: run.ended_at, text: `Run ended ${run.status}` });
  return entries.sort((a, b) => a.at.localeCompare(b.at));
}

export function RunHistory({ run }: { run: Run }) {
  const entries = runHistory(run);
  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <ol class="history">
        {entries.map((entry, i) => (
          <li key={i}>
            <time dateTime={entry.at}>{when(entry.at)}</time> {entry.text}
          </li>
        ))}
      </ol>
    </section>
  );
}

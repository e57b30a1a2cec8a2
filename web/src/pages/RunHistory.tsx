import { createParser } from 'eventsource-parser';
import type { ApiClient } from '../api/client.js';
import type { Run } from '../api/types.js';
import { when } from '../format.js';
import { useApp, useResource } from '../hooks.js';

interface Entry {
  readonly at: string;
  readonly text: string;
}

/** A run event as GET /api/events sends it (docs/events.md). */
export interface RunEvent {
  readonly id: string;
  readonly kind: string;
  readonly step_key: string | null;
  readonly step_run_id: string | null;
  /** A map step's item (SPEC §17); absent from servers before map steps. */
  readonly item_index?: number | null;
  readonly attempt: number | null;
  readonly status: string | null;
  /** Why, on step_failed and run_failed. */
  readonly error: { readonly message: string } | null;
  readonly at: string;
}

const RUN_TEXT: Record<string, string> = {
  run_started: 'Run started',
  run_waiting: 'Run waits for attestations',
  run_resumed: 'Run resumed',
  run_retried: 'Run retried',
  run_succeeded: 'Run succeeded',
  run_failed: 'Run ended in error',
  run_cancelled: 'Run cancelled',
};
const STEP_TEXT: Record<string, string> = {
  step_started: 'started',
  step_succeeded: 'succeeded',
  step_failed: 'failed',
  step_waiting: 'waits for an attestation',
  step_cancelled: 'cancelled',
};

/** The run's history from its recorded events: every transition, in the order it committed. */
export function historyFromEvents(run: Run, events: readonly RunEvent[]): Entry[] {
  const attesters = new Map(run.step_runs.flatMap((s) => (s.attestation ? [[s.id, s.attestation.attested_by] as const] : [])));
  return events.map((event) => {
    const attempt = event.attempt && event.attempt > 1 ? ` (attempt ${event.attempt})` : '';
    const step = `${event.step_key ?? 'a step'}${event.item_index == null ? '' : `[${event.item_index}]`}${attempt}`;
    if (event.kind === 'step_attested') {
      const by = event.step_run_id ? attesters.get(event.step_run_id) : undefined;
      return { at: event.at, text: `${step} attested ${event.status ?? ''}${by ? ` by ${by}` : ''}` };
    }
    const text = RUN_TEXT[event.kind] ?? (STEP_TEXT[event.kind] ? `${step} ${STEP_TEXT[event.kind]}` : event.kind);
    return { at: event.at, text: event.error ? `${text}: ${event.error.message}` : text };
  });
}

/** The run's history as its rows tell it, for a server without GET /api/events. */
export function historyFromRows(run: Run): Entry[] {
  const entries: Entry[] = [];
  if (run.started_at) entries.push({ at: run.started_at, text: 'Run started' });
  for (const s of run.step_runs) {
    const attempt = s.attempt > 1 ? ` (attempt ${s.attempt})` : '';
    const key = s.item_index === null ? s.step_key : `${s.step_key}[${s.item_index}]`;
    entries.push({ at: s.started_at, text: s.status === 'WAITING_FOR_ATTESTATION' || s.step_type === 'compute' ? `${key}${attempt} waits for an attestation` : `${key}${attempt} started` });
    if (s.attestation) entries.push({ at: s.attestation.attested_at, text: `${key} attested ${s.attestation.outcome} by ${s.attestation.attested_by}` });
    if (s.ended_at) entries.push({ at: s.ended_at, text: `${key}${attempt} ended ${s.status}` });
  }
  if (run.ended_at) entries.push({ at: run.ended_at, text: `Run ended ${run.status}` });
  return entries.sort((a, b) => a.at.localeCompare(b.at));
}

/**
 * The run's recorded events: the stream replayed from the start (`last_event_id=0`), ended once
 * replayed (`follow=false`); a request answers at most 10,000 and then says where to continue
 * (`event: more`).
 */
async function recordedEvents(client: ApiClient, runId: string): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  for (let from: string | undefined = '0'; from !== undefined; ) {
    let more: string | undefined;
    const parser = createParser({
      onEvent(event) {
        if (event.event === 'more') more = event.id;
        else events.push(JSON.parse(event.data) as RunEvent);
      },
    });
    parser.feed(await client.text(`/api/events?run=${encodeURIComponent(runId)}&last_event_id=${encodeURIComponent(from)}&follow=false`, 'text/event-stream'));
    from = more;
  }
  return events;
}

export function RunHistory({ run }: { run: Run }) {
  const { session } = useApp();
  const recorded = useResource((client) => (session.features.events ? recordedEvents(client, run.id) : Promise.resolve(undefined)), [run.id, session.features.events]);
  const entries = recorded.data ? historyFromEvents(run, recorded.data) : historyFromRows(run);
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

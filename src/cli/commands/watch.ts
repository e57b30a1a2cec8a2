import type { IncomingMessage } from 'node:http';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { ManifestJson, RunJson } from '../api-types.js';
import { CliError, type ApiClient } from '../client.js';
import { EXIT, exitCodeOfRun } from '../exit-codes.js';
import { status, type Output } from '../output.js';
import { eventColumns, StepClock } from '../progress.js';
import { SETTLED_STATUSES, SETTLING_KINDS, type RunEvent } from '../run-stream.js';
import { runState } from './runs.js';

/** How long to wait before reconnecting, doubled per failed try up to the maximum. */
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 5_000;
/** Consecutive failed reconnects (about 4 minutes) before `watch` gives up with exit 5. */
const MAX_FAILED_TRIES = 50;

/**
 * `stepgate watch [RUN]`: follows `GET /api/events` (Server-Sent Events), one line per event
 * (`--json`: the event's JSON). With RUN: only that run's events; first the run as it is now,
 * and the command ends once the run waits or ends, with the exit code of `stepgate run`.
 * Without: every run's events until Ctrl+C. A dropped connection is reopened with
 * `Last-Event-ID`, so that the server replays what was missed.
 */
export async function watchCommand(api: ApiClient, out: Output, runId: string | undefined): Promise<number> {
  const path = `/api/events${runId ? `?run=${encodeURIComponent(runId)}` : ''}`;
  const types = new Map<string, string>();
  const clock = new StepClock();
  let lastEventId: string | undefined;
  let delay = FIRST_DELAY_MS;
  let failures = 0;

  // Subscribe first, then look at the run: a transition in between is on the stream.
  let stream: IncomingMessage | undefined = await api.open('GET', path, { accept: 'text/event-stream' });
  if (!runId) process.stderr.write(`stepgate: following the events of every run at ${api.baseUrl}; Ctrl+C stops\n`);
  for (;;) {
    if (runId && lastEventId === undefined) {
      // (Again after a reconnect that has no event id to replay from.)
      const run = await api.request<RunJson>('GET', `/api/runs/${encodeURIComponent(runId)}`);
      if (types.size === 0) for (const step of (await api.request<ManifestJson>('GET', `/api/manifests/${run.manifest_id}`)).steps) types.set(step.key, step.step_type ?? 'task');
      for (const step of run.step_runs) if (step.status === 'RUNNING') clock.startedAt(step.id, step.started_at);
      if (out.json) out.line(JSON.stringify(run));
      else out.line(`Run ${run.id} is ${runState(out, run)}${run.waiting_on.length > 0 ? `, waiting on ${run.waiting_on.map((w) => w.step_key).join(', ')}` : ''}`);
      if (SETTLED_STATUSES.has(run.status)) {
        stream.destroy();
        return exitCodeOfRun(run.status);
      }
    }
    let settled: string | undefined;
    await readEvents(stream, (message) => {
      if (message.id) lastEventId = message.id;
      let event: RunEvent;
      try {
        event = JSON.parse(message.data) as RunEvent;
      } catch {
        return false; // not an event of a run
      }
      if (runId && event.run_id !== runId) return false;
      out.line(out.json ? message.data : eventLine(out, event, types, clock.see(event), runId === undefined));
      settled = runId ? SETTLING_KINDS[event.kind] : undefined;
      return settled !== undefined;
    });
    if (settled !== undefined) return exitCodeOfRun(settled);

    // The connection dropped (the server restarted, a proxy timed out): open it again from the last event seen.
    process.stderr.write(`stepgate: the event stream from ${api.baseUrl} ended; reconnecting${lastEventId ? ` after event ${lastEventId}` : ''}…\n`);
    stream = undefined;
    while (!stream) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        stream = await api.open('GET', path, { accept: 'text/event-stream', headers: lastEventId ? { 'last-event-id': lastEventId } : {} });
        delay = FIRST_DELAY_MS;
        failures = 0;
      } catch (err) {
        if (!(err instanceof CliError) || err.exitCode !== EXIT.unreachable || ++failures >= MAX_FAILED_TRIES) throw err;
        delay = Math.min(delay * 2, MAX_DELAY_MS);
      }
    }
  }
}

/**
 * Feeds the stream to an SSE parser until it ends, or until `onMessage` answers true (then
 * the connection is closed).
 */
function readEvents(stream: IncomingMessage, onMessage: (message: EventSourceMessage) => boolean): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      stream.destroy();
      resolve();
    };
    const parser = createParser({
      onEvent(message) {
        if (!done && onMessage(message)) finish();
      },
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => parser.feed(chunk));
    stream.on('end', finish);
    stream.on('close', finish);
    stream.on('error', finish);
  });
}

function eventLine(out: Output, event: RunEvent, types: ReadonlyMap<string, string>, took: string, withRun: boolean): string {
  const columns = eventColumns(event, types, took, (word) => status(out, word));
  if (event.step_key) columns[0] = out.style('bold', columns[0]!);
  return [out.style('gray', event.at.slice(11, 19)), ...(withRun ? [out.style('gray', event.run_id)] : []), ...columns].join('  ');
}

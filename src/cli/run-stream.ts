import { createInterface } from 'node:readline';
import type { RunJson } from './api-types.js';
import { CliError, exitCodeOfStatus, type ApiClient, type Problem } from './client.js';
import { EXIT } from './exit-codes.js';

/** One transition of a run, as `POST /api/runs` (NDJSON) and `GET /api/events` (SSE) carry it (SPEC §12). */
export interface RunEvent {
  id?: string;
  kind: string;
  run_id: string;
  step_key?: string | null;
  step_run_id?: string | null;
  /** A map step's item (SPEC §17). */
  item_index?: number | null;
  /** Not on the wire today; shown when a server sends it, else taken from the manifest. */
  step_type?: string | null;
  attempt?: number | null;
  status?: string | null;
  at: string;
  error?: { message?: string } | null;
}

/** The kinds after which a run is parked or over: what `watch RUN` waits for. */
export const SETTLING_KINDS: Readonly<Record<string, string>> = {
  run_waiting: 'waiting',
  run_succeeded: 'success',
  run_failed: 'error',
  run_cancelled: 'cancelled',
};

export const SETTLED_STATUSES: ReadonlySet<string> = new Set(['waiting', 'success', 'error', 'cancelled']);

/**
 * Sends a run-advancing request (start, resume, retry) asking for NDJSON, hands each event to
 * `onEvent` as its line arrives, and answers the run: the last line. A server that does not
 * stream (or `accept: 'application/json'`, for --no-progress) answers the run as one JSON
 * document, which is taken as it is. Either way without a client-side timeout (ApiClient.open).
 */
export async function streamRun(
  api: ApiClient,
  method: string,
  path: string,
  json: unknown,
  onEvent: (event: RunEvent) => void,
  accept: 'application/x-ndjson' | 'application/json' = 'application/x-ndjson',
): Promise<RunJson> {
  const response = await api.open(method, path, { accept, json });
  response.setEncoding('utf8');
  const streamed = /application\/x-ndjson/i.test(String(response.headers['content-type'] ?? ''));
  // Named in the path (resume, retry) or chosen by the caller (start): the error can say how to follow it.
  let runId = /\/api\/runs\/([^/]+)\//.exec(path)?.[1] ?? (json as { id?: string } | undefined)?.id;
  const dropped = () =>
    new CliError(
      `the connection to ${api.baseUrl} ended before the run was reported. The run goes on on the server: ${runId ? `stepgate watch ${runId} follows it` : 'stepgate runs lists it'}.`,
      EXIT.unreachable,
    );
  if (!streamed) {
    let text = '';
    try {
      for await (const chunk of response) text += chunk as string;
    } catch (err) {
      throw isConnectionError(err) ? dropped() : err;
    }
    return parseLine(text) as unknown as RunJson;
  }
  let last: Record<string, unknown> | undefined;
  try {
    for await (const line of createInterface({ input: response, crlfDelay: Infinity })) {
      if (line.trim() === '') continue;
      const value = parseLine(line);
      if (value.kind === 'error') {
        const problem = (value.problem ?? {}) as Problem;
        throw new CliError(`the run stopped with an error after it began: ${problem.detail ?? JSON.stringify(problem)}`, problem.status ? exitCodeOfStatus(problem.status) : EXIT.failure, problem);
      }
      if (typeof value.kind === 'string') {
        const event = value as unknown as RunEvent;
        runId = event.run_id;
        onEvent(event);
      } else last = value;
    }
  } catch (err) {
    throw isConnectionError(err) ? dropped() : err;
  }
  if (!last || !Array.isArray(last.step_runs)) throw dropped();
  return last as unknown as RunJson;
}

/** A socket that broke mid-answer (node:http's "aborted" is an ECONNRESET). */
function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return !(err instanceof CliError) && typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

function parseLine(line: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new CliError(`the server sent a line that is not JSON: ${line.slice(0, 200)}`, EXIT.failure);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError(`the server sent a line that is not a JSON object: ${line.slice(0, 200)}`, EXIT.failure);
  return value as Record<string, unknown>;
}

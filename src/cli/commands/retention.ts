import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import type { ApiClient } from '../client.js';
import { CliError } from '../client.js';
import { EXIT } from '../exit-codes.js';
import type { Output } from '../output.js';

/** Retention, the operator's choice (docs/retention.md): `stepgate runs export` and `stepgate runs prune`. */

export interface ExportOptions {
  endedBefore?: string;
  status?: string;
  manifest?: string;
  out?: string;
}

/**
 * `stepgate runs export [--ended-before DATE] [--status S,…] [--manifest ID] [--out FILE]`:
 * every matching run with its whole record, one JSON line per run (NDJSON), to FILE or stdout,
 * as the server streams it (memory stays flat). Exits non-zero when the server reported a
 * failure part-way (its last line is then `{"kind":"error",…}`).
 */
export async function exportCommand(api: ApiClient, out: Output, options: ExportOptions): Promise<number> {
  const query = new URLSearchParams();
  if (options.endedBefore) query.set('ended_before', isoDate(options.endedBefore, '--ended-before'));
  if (options.status) query.set('status', options.status);
  if (options.manifest) query.set('manifest_id', options.manifest);
  const response = await api.open('GET', `/api/runs/export${query.size > 0 ? `?${query}` : ''}`, { accept: 'application/x-ndjson' });
  const sink = options.out ? createWriteStream(options.out, { flags: 'wx', mode: 0o600 }) : process.stdout;
  let runs = 0;
  let failure: string | undefined;
  for await (const line of createInterface({ input: response, crlfDelay: Infinity })) {
    if (line.length === 0) continue;
    if (line.startsWith('{"kind":"error"')) {
      failure = (JSON.parse(line) as { problem?: { detail?: string } }).problem?.detail ?? 'the server failed part-way';
      break;
    }
    runs++;
    if (!sink.write(`${line}\n`)) await once(sink, 'drain');
  }
  if (sink !== process.stdout) {
    sink.end();
    await finished(sink);
  }
  if (failure) throw new CliError(`The export stopped after ${runs} runs: ${failure}`, EXIT.failure);
  if (options.out) {
    if (out.json) out.data({ runs, out: options.out });
    else out.line(`Exported ${runs} run${runs === 1 ? '' : 's'} to ${options.out}.`);
  }
  return EXIT.ok;
}

export interface PruneOptions {
  endedBefore: string;
  status?: string;
  dryRun?: boolean;
}

/**
 * `stepgate runs prune --ended-before DATE [--status S,…] [--dry-run]` (admin): removes the
 * final runs that ended before DATE, with their whole record; the audit log records it.
 */
export async function pruneCommand(api: ApiClient, out: Output, options: PruneOptions): Promise<number> {
  const body = {
    ended_before: isoDate(options.endedBefore, '--ended-before'),
    ...(options.status ? { status: options.status.split(',').map((s) => s.trim()) } : {}),
    dry_run: Boolean(options.dryRun),
  };
  const result = await api.request<{ removed: number; dry_run: boolean; ended_before: string; status: string[] }>('POST', '/api/runs/prune', { json: body });
  if (out.json) out.data(result);
  else {
    const which = `run${result.removed === 1 ? '' : 's'} (${result.status.join(', ')}) that ended before ${result.ended_before}`;
    out.line(result.dry_run ? `Would remove ${result.removed} ${which}. Nothing was removed (--dry-run).` : `Removed ${result.removed} ${which}, with their step runs, evidence, attestations and events. The audit log records the prune.`);
  }
  return EXIT.ok;
}

/** A date (2026-01-31) or a time with its offset, as ISO 8601 with an offset for the API. */
function isoDate(value: string, option: string): string {
  const text = /^\d{4}-\d\d-\d\d$/.test(value) ? `${value}T00:00:00Z` : value;
  const time = new Date(text);
  if (!/^\d{4}-\d\d-\d\dT/.test(text) || Number.isNaN(time.getTime())) {
    throw new CliError(`${option} ${value}: expected a date (2026-01-31, midnight UTC) or an ISO 8601 time with its offset (2026-01-31T12:00:00+01:00)`, EXIT.invalidInput);
  }
  return time.toISOString();
}

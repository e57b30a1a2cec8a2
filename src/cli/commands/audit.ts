import type { ApiClient } from '../client.js';
import { EXIT } from '../exit-codes.js';
import { table, type Output } from '../output.js';
import { nextPageHint } from './runs.js';

interface AuditEventJson {
  id: string;
  at: string;
  actor: string | null;
  action: string;
  target: string;
  outcome: number;
  code: string | null;
  request_id: string;
  address: string | null;
}

export interface AuditOptions {
  actor?: string;
  action?: string;
  outcome?: string;
  since?: string;
  limit?: string;
  cursor?: string;
}

/** `stepgate audit [--actor NAME] [--action A] [--outcome STATUS] [--since TIME] [--limit N] [--cursor C]`, newest first. */
export async function auditCommand(api: ApiClient, out: Output, options: AuditOptions): Promise<number> {
  const query = new URLSearchParams();
  for (const key of ['actor', 'action', 'outcome', 'since', 'limit', 'cursor'] as const) {
    const value = options[key];
    if (value !== undefined) query.set(key, value);
  }
  const page = await api.request<{ items: AuditEventJson[]; next_cursor: string | null }>('GET', `/api/audit?${query.toString()}`);
  if (out.json) out.data(page);
  else if (page.items.length === 0) out.line('No audit events match.');
  else {
    out.line(
      table([
        ['AT', 'ACTOR', 'OUTCOME', 'ACTION', 'TARGET', 'ADDRESS'],
        ...page.items.map((e) => [
          e.at,
          e.actor ?? '-',
          e.outcome >= 400 ? out.style('red', `${e.outcome}${e.code ? ` ${e.code}` : ''}`) : String(e.outcome),
          e.action,
          e.target,
          e.address ?? '-',
        ]),
      ]),
    );
    if (page.next_cursor) out.line(out.style('gray', `more: ${nextPageHint('audit', { ...options }, page.next_cursor)}`));
  }
  return EXIT.ok;
}

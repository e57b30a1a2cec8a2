import type { ApiClient } from '../client.js';
import { EXIT } from '../exit-codes.js';
import { table, type Output } from '../output.js';

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
}

/** `stepgate audit [--actor NAME] [--action A] [--outcome STATUS] [--since TIME] [--limit N]`, newest first. */
export async function auditCommand(api: ApiClient, out: Output, options: AuditOptions): Promise<number> {
  const query = new URLSearchParams();
  for (const key of ['actor', 'action', 'outcome', 'since', 'limit'] as const) {
    const value = options[key];
    if (value !== undefined) query.set(key, value);
  }
  const page = await api.request<{ items: AuditEventJson[]; total: number }>('GET', `/api/audit?${query.toString()}`);
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
    if (page.total > page.items.length) out.line(`(${page.items.length} of ${page.total}; --limit shows more)`);
  }
  return EXIT.ok;
}

import type { ApiClient } from '../client.js';
import { CliError } from '../client.js';
import { EXIT } from '../exit-codes.js';
import { table, type Output } from '../output.js';

interface TokenJson {
  id: string;
  name: string;
  role: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  status: string;
  token?: string;
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90d`, `12h`, `30m`, `2w`, or an ISO 8601 time → the expiry as ISO 8601. */
export function expiryOf(value: string, now = Date.now()): string {
  const match = /^(\d{1,6})([mhdw])$/.exec(value.trim());
  if (match) return new Date(now + Number(match[1]) * UNITS[match[2]!]!).toISOString();
  const at = Date.parse(value);
  if (/^\d{4}-\d{2}-\d{2}/.test(value) && Number.isFinite(at)) return new Date(at).toISOString();
  throw new CliError(`--expires must be a duration such as 90d, 12h, 30m or 2w, or an ISO 8601 time; found "${value}"`, EXIT.invalidInput);
}

/** `stepgate token create --name NAME --role ROLE [--expires 90d]`: prints the secret once. */
export async function tokenCreateCommand(api: ApiClient, out: Output, options: { name: string; role: string; expires?: string }): Promise<number> {
  const body = { name: options.name, role: options.role, ...(options.expires ? { expires_at: expiryOf(options.expires) } : {}) };
  const created = await api.request<TokenJson>('POST', '/api/tokens', { json: body });
  if (out.json) out.data(created);
  else {
    out.line(`Created the ${created.role} token "${created.name}"${created.expires_at ? `, valid until ${created.expires_at}` : ''}. It is shown this once; store it now:`);
    out.line(created.token);
  }
  return EXIT.ok;
}

export async function tokenListCommand(api: ApiClient, out: Output): Promise<number> {
  const { items } = await api.request<{ items: TokenJson[] }>('GET', '/api/tokens');
  if (out.json) out.data({ items });
  else if (items.length === 0) out.line('No tokens.');
  else {
    out.line(
      table([
        ['NAME', 'ROLE', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED'],
        ...items.map((t) => [t.name, t.role, t.status, t.created_at, t.expires_at ?? 'never', t.last_used_at ?? '-']),
      ]),
    );
  }
  return EXIT.ok;
}

/** `stepgate token revoke NAME`: refused from the token's next request on. */
export async function tokenRevokeCommand(api: ApiClient, out: Output, name: string): Promise<number> {
  const revoked = await api.request<TokenJson>('DELETE', `/api/tokens/${encodeURIComponent(name)}`);
  if (out.json) out.data(revoked);
  else out.line(`Revoked the token "${revoked.name}" (${revoked.role}); it is refused from its next request on.`);
  return EXIT.ok;
}

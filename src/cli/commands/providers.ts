import type { ApiClient } from '../client.js';
import { EXIT } from '../exit-codes.js';
import { table, type Output } from '../output.js';

/** `stepgate providers`: the LLM providers the server has (GET /api/providers) — never a key. */

interface ProviderJson {
  name: string;
  kind: string | null;
  base_url: string | null;
  api_key_env: string | null;
  key_set: boolean;
  max_concurrency: number;
  models: string[] | null;
}

/** How many model names a row shows before "and N more". */
const MODELS_SHOWN = 3;

export async function providersCommand(api: ApiClient, out: Output): Promise<number> {
  const answer = await api.request<{ items: ProviderJson[] }>('GET', '/api/providers');
  if (out.json) {
    out.data(answer);
    return EXIT.ok;
  }
  const key = (p: ProviderJson) => (p.api_key_env === null ? out.style('gray', 'none') : p.key_set ? `${p.api_key_env} ${out.style('green', '(set)')}` : `${p.api_key_env} ${out.style('yellow', '(not set)')}`);
  const models = (p: ProviderJson) => {
    if (p.models === null) return out.style('gray', p.kind === 'offline' ? 'any' : 'not listed');
    const shown = p.models.slice(0, MODELS_SHOWN).join(', ');
    return p.models.length > MODELS_SHOWN ? `${shown} and ${p.models.length - MODELS_SHOWN} more` : shown || out.style('gray', 'none');
  };
  out.line(
    table([
      ['NAME', 'KIND', 'BASE URL', 'KEY', 'MAX CONCURRENCY', 'MODELS'],
      ...answer.items.map((p) => [p.name, p.kind ?? '?', p.base_url ?? '', key(p), String(p.max_concurrency), models(p)]),
    ]),
  );
  return EXIT.ok;
}

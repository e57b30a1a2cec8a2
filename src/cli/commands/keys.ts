import type { ApiClient } from '../client.js';
import { EXIT } from '../exit-codes.js';
import { table, type Output } from '../output.js';

/** `stepgate keys list` and `stepgate keys rotate`: the server's provenance signing keys. */

interface KeyJson {
  keyid: string;
  algorithm: string;
  public_key: string;
  active: boolean;
  created_at: string;
  retired_at: string | null;
}

export async function keysListCommand(api: ApiClient, out: Output): Promise<number> {
  const answer = await api.request<{ keys: KeyJson[] }>('GET', '/api/keys');
  if (out.json) out.data(answer);
  else {
    out.line(
      table([
        ['KEYID', 'STATUS', 'ALGORITHM', 'CREATED', 'RETIRED'],
        ...answer.keys.map((k) => [k.keyid, k.active ? out.style('green', 'active') : 'retired', k.algorithm, k.created_at, k.retired_at ?? '']),
      ]),
    );
  }
  return EXIT.ok;
}

export async function keysRotateCommand(api: ApiClient, out: Output): Promise<number> {
  const answer = await api.request<{ active: KeyJson; retired: KeyJson[] }>('POST', '/api/keys/rotate');
  if (out.json) out.data(answer);
  else {
    out.line(`New signing key ${answer.active.keyid} is active.`);
    for (const key of answer.retired) out.line(`Retired ${key.keyid}: it signs nothing new, and what it signed still verifies (GET /api/keys lists it).`);
  }
  return EXIT.ok;
}

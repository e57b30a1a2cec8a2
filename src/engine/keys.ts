import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { keyidOf, type SigningKey } from '../core/provenance/dsse.js';
import { activeKeyOrInsert, listKeys, rotateKey, type NewKey, type SigningKeyRow } from '../storage/signing-keys.js';
import type { EngineDeps } from './deps.js';

/**
 * The server's Ed25519 provenance keys. The active key is read from the database for every
 * signature (not cached), so that after a rotation every process sharing the database signs
 * with the new key at once.
 */

function generateKey(): NewKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    keyid: keyidOf(publicKey),
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** The active key, created on first use (`stepgate serve` calls it at start-up). */
export async function activeSigningKey(deps: Pick<EngineDeps, 'db'>): Promise<SigningKey> {
  const row = await activeKeyOrInsert(deps.db, generateKey);
  return { keyid: row.keyid, privateKey: createPrivateKey(row.private_key) };
}

export interface PublicKeyView {
  readonly keyid: string;
  readonly algorithm: string;
  readonly publicKey: string;
  readonly createdAt: Date;
  readonly retiredAt: Date | null;
}

const view = (row: Omit<SigningKeyRow, 'private_key'>): PublicKeyView => ({
  keyid: row.keyid,
  algorithm: row.algorithm,
  publicKey: row.public_key,
  createdAt: new Date(row.created_at),
  retiredAt: row.retired_at === null ? null : new Date(row.retired_at),
});

/** Every public key, the active one first: statements signed by a retired key still verify. */
export async function listPublicKeys(deps: Pick<EngineDeps, 'db'>): Promise<PublicKeyView[]> {
  await activeKeyOrInsert(deps.db, generateKey);
  return (await listKeys(deps.db)).map(view);
}

/** Retires the active key and creates a new one; the retired key stays listed. */
export async function rotateSigningKey(deps: Pick<EngineDeps, 'db'>): Promise<{ active: PublicKeyView; retired: PublicKeyView[] }> {
  const { active, retired } = await rotateKey(deps.db, generateKey);
  return { active: view(active), retired: retired.map(view) };
}

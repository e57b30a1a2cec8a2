import type { Database } from '../storage/database.js';
import { TOKENS_CHANNEL, type TokenLookup } from '../storage/tokens.js';

/** The longest a lookup is kept, even while no revocation is announced. */
const MAX_AGE_MS = 10_000;

/**
 * Token lookups kept in memory, so that a request costs one round trip to the database, not
 * two (the lookup was a third of GET throughput). Only while this process hears every
 * revocation: each one is announced on TOKENS_CHANNEL at its commit, by whichever process or
 * CLI made it, and empties the cache; so does a lost LISTEN connection, and nothing is kept
 * again until it is back. Without a LISTEN (a CLI), or before it is ready, every lookup reads
 * the database. Only usable tokens are kept; expiry is checked on every use.
 */
export interface TokenCache {
  lookup(tokenHash: string, read: () => Promise<TokenLookup | undefined>): Promise<TokenLookup | undefined>;
  /** Forget every lookup (this process revoked a token: its next request must read it again). */
  forget(): void;
}

export function createTokenCache(listen: Database['listen'] | undefined): TokenCache {
  const kept = new Map<string, { row: TokenLookup; at: number }>();
  let hearing = false;
  let subscribing = false;
  /** Bumped by every forget: a read that began before one is not kept. */
  let generation = 0;
  const forget = () => {
    kept.clear();
    generation++;
  };
  /** The LISTEN is up (again): keep lookups from now on, none from before. */
  const startHearing = () => {
    forget();
    hearing = true;
  };

  function subscribe() {
    if (subscribing || !listen) return;
    subscribing = true;
    listen(
      TOKENS_CHANNEL,
      forget,
      startHearing,
      () => {
        hearing = false;
        forget();
      },
    ).then(startHearing, () => {
      subscribing = false; // tried again on the next lookup
    });
  }

  return {
    async lookup(tokenHash, read) {
      subscribe();
      if (!hearing) return read();
      const entry = kept.get(tokenHash);
      if (entry && Date.now() - entry.at < MAX_AGE_MS) return entry.row;
      const began = generation;
      const row = await read();
      if (row && row.revoked_at === null && !row.expired && hearing && generation === began) kept.set(tokenHash, { row, at: Date.now() });
      return row;
    },
    forget,
  };
}

import type { SQL } from 'drizzle-orm';
import type { EventRows } from './events.js';

/**
 * What the runner's transitions (start-step, finish-step, park, settle, release) are made of:
 * pieces of one statement per flush (runner-flush.ts), each a CTE that depends on the locked
 * run row (`held`).
 */

export interface Piece {
  readonly sql: SQL;
  /** The CTE's name when the flush reports on it. */
  readonly reports?: 'started' | 'released';
  /** The events its rows make (SPEC §12), appended by the same statement. */
  readonly events?: readonly EventRows[];
}

export interface PieceContext {
  readonly runId: string;
  readonly owner: string;
  /** Holds while this executor has the lease (running, or cancelled under it). */
  readonly held: SQL;
  name(prefix: string): string;
}


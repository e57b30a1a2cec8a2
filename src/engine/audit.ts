import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuditRecord } from '../core/run-store.js';
import { listAuditEvents, type AuditFilter, appendAuditEvent } from '../storage/audit.js';
import type { EngineDeps } from './deps.js';
import { afterCursor, withCursor, type ListQuery } from './lists.js';

/** The append-only audit log (SPEC §10): one row per state-changing request, allowed or refused. */
export function recordAuditEvent(deps: EngineDeps, event: AuditRecord): Promise<void> {
  return appendAuditEvent(deps.db, event);
}

/** Newest first, a page at a time (engine/lists.ts). */
export async function listAudit(deps: EngineDeps, query: AuditFilter & ListQuery) {
  const filters = { actor: query.actor, action: query.action, outcome: query.outcome, since: query.since?.toISOString() };
  return withCursor('audit', filters, await listAuditEvents(deps.db, { ...query, after: afterCursor('audit', filters, query) }));
}

/**
 * The audit row of the request being served, before its change is made (SPEC §10). The
 * request's last write — an attestation, a cancel, a runner's release — carries it, so that
 * the change and its row commit in one transaction: no commit of its own, and no window in
 * which a change is in the database without its row. The HTTP layer writes whatever no write
 * carried (a refusal, a request that changed nothing through these writes), before answering.
 */
export class PendingAudit {
  #state: 'open' | 'carried' | 'written' = 'open';
  #carrying: Promise<unknown> = Promise.resolve();

  /**
   * @param row The row as the request would be recorded on success (`outcome` the route's success status).
   * @param targetOf The row's target for a change to this run (a create names the new run).
   */
  constructor(
    readonly row: AuditRecord,
    private readonly targetOf: (runId: string) => string,
  ) {}

  /** Whether a write carried the row, once any write carrying it has ended. */
  async written(): Promise<boolean> {
    await this.#carrying;
    return this.#state === 'written';
  }

  /** Takes the row for one write (none while another write has it, or once written). */
  take(runId: string): AuditRecord | undefined {
    if (this.#state !== 'open') return undefined;
    this.#state = 'carried';
    return { ...this.row, target: this.targetOf(runId) };
  }

  /** The write that took the row: whether it inserted the row, once it ends (a failed write did not). */
  settle(wrote: Promise<boolean>): void {
    this.#carrying = wrote.then(
      (written) => void (this.#state = written ? 'written' : 'open'),
      () => void (this.#state = 'open'),
    );
  }
}

const pending = new AsyncLocalStorage<PendingAudit>();

/** Runs `serve` with `audit` as the request's pending row, for its last write to carry. */
export function withPendingAudit<T>(audit: PendingAudit, serve: () => T): T {
  return pending.run(audit, serve);
}

/**
 * One of the engine's last writes of a request, handed the request's audit row if it is still
 * to be written: `wrote` says, from the write's result, whether the row went in with it.
 */
export async function carryingAudit<T>(runId: string, write: (audit: AuditRecord | undefined) => Promise<T>, wrote: (result: T) => boolean): Promise<T> {
  const audit = pending.getStore();
  const row = audit?.take(runId);
  if (!audit || !row) return write(undefined);
  const done = write(row);
  audit.settle(done.then(wrote));
  return done;
}

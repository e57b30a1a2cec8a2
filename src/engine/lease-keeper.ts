import type { RunStatus } from '../core/lifecycle.js';
import type { EngineDeps } from './deps.js';

export interface LeaseKeeper {
  /** True once a renewal found that this executor no longer holds the run. */
  readonly lost: boolean;
  stop(): void;
}

/**
 * Renews this executor's lease on a run every third of the lease while it works — also while
 * an LLM call is in flight — so the lease can be short (STEPGATE_RUN_LEASE_MS) and a live run
 * is never taken over. A renewal that fails for a moment is tried again at the next tick; if
 * the run was taken over meanwhile, `lost` turns true and the runner's next write, fenced by
 * the lease, writes nothing. Each renewal tells `onRenewed` the run's status, so that a cancel
 * reaches the calls in flight within one renewal interval even when nothing is written.
 */
export function keepLease(deps: EngineDeps, runId: string, onRenewed: (status: RunStatus) => void = () => {}): LeaseKeeper {
  let lost = false;
  let busy = false;
  const timer = setInterval(() => {
    if (busy || lost) return;
    busy = true;
    deps.store
      .renewLease({ runId, owner: deps.executorId, leaseMs: deps.leaseMs })
      .then((held) => {
        if (!held) lost = true;
        else onRenewed(held.status);
      })
      .catch(() => {}) // the next tick tries again; the lease is 3 ticks long
      .finally(() => {
        busy = false;
      });
  }, Math.max(50, Math.floor(deps.leaseMs / 3)));
  timer.unref();
  return {
    get lost() {
      return lost;
    },
    stop: () => clearInterval(timer),
  };
}

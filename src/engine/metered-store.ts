import type { Transition } from '../core/lifecycle.js';
import type { Metrics } from '../core/metrics.js';
import type { RunnerWrite, RunStore } from '../core/run-store.js';

const KIND_OF_WRITE: Record<RunnerWrite['kind'], Transition> = {
  park: 'park',
  settle: 'settle',
  start: 'start-step',
  restart: 'take-over',
  finish: 'finish-step',
  release: 'release',
  'drop-lease': 'release',
};

/**
 * The run store, counting each transition that took effect by its name in core/lifecycle.ts
 * (`stepgate_transitions_total{kind}`). A refused transition is not counted.
 */
export function meteredStore(store: RunStore, metrics: Metrics): RunStore {
  const count = (kind: Transition, times = 1) => {
    for (let i = 0; i < times; i++) metrics.transition(kind);
  };
  return {
    ...store,
    async flush(guard, writes, audit) {
      const result = await store.flush(guard, writes, audit);
      if (result.held) {
        if (guard.kind === 'create') count('create');
        for (const write of writes) {
          const released = write.kind === 'release' || write.kind === 'drop-lease';
          if (released && !result.released) continue;
          if (write.kind === 'start' && !result.started.some((s) => s.stepKey === write.stepKey && s.itemIndex === write.itemIndex && s.attempt === write.attempt)) continue;
          if (write.kind === 'restart' && !result.started.some((s) => s.id === write.stepRunId)) continue;
          count(KIND_OF_WRITE[write.kind]);
        }
      }
      return result;
    },
    async claimResume(claim) {
      const claimed = await store.claimResume(claim);
      if (claimed) count('claim-resume');
      return claimed;
    },
    async claimRetry(claim) {
      const claimed = await store.claimRetry(claim);
      if (claimed) count('retry');
      return claimed;
    },
    async expireOverdue(runId, owner) {
      const expired = await store.expireOverdue(runId, owner);
      count('expire', expired.length);
      return expired;
    },
    async handBack(runId, owner) {
      await store.handBack(runId, owner);
      count('hand-back');
    },
    async attest(input, audit) {
      const outcome = await store.attest(input, audit);
      if (outcome.kind === 'attested') count('attest');
      return outcome;
    },
    async cancel(runId, reason, audit) {
      const outcome = await store.cancel(runId, reason, audit);
      if (outcome.kind === 'cancelled') count('cancel');
      return outcome;
    },
  };
}

/**
 * Named fault points (after DBOS's debugTriggerPoint): tests arm one to simulate a process
 * dying at an exact place, instead of sleeping and hoping. Production wires none.
 */
export type FaultPoint = 'afterPromptBeforeLlm' | 'afterLlmBeforeCommit';

export interface FaultPoints {
  hit(point: FaultPoint): void;
}

export class SimulatedCrash extends Error {
  constructor(readonly point: FaultPoint) {
    super(`simulated crash at ${point}`);
    this.name = 'SimulatedCrash';
  }
}

/** An ordinary failure (say, the database connection dropped) rather than a dead process. */
export class SimulatedFailure extends Error {
  constructor(readonly point: FaultPoint) {
    super(`simulated failure at ${point}`);
    this.name = 'SimulatedFailure';
  }
}

/**
 * Throws at `point` the next `times` times it is reached: a SimulatedCrash (the process dies:
 * nothing runs after it) or, with `kind: 'failure'`, a SimulatedFailure the process survives.
 */
export function armFault(point: FaultPoint, options: { times?: number; kind?: 'crash' | 'failure' } = {}): FaultPoints {
  let left = options.times ?? 1;
  return {
    hit(reached) {
      if (reached === point && left > 0) {
        left--;
        throw options.kind === 'failure' ? new SimulatedFailure(point) : new SimulatedCrash(point);
      }
    },
  };
}

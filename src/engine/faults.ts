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

/** Throws SimulatedCrash the next `times` times `point` is reached. */
export function armFault(point: FaultPoint, times = 1): FaultPoints {
  let left = times;
  return {
    hit(reached) {
      if (reached === point && left > 0) {
        left--;
        throw new SimulatedCrash(point);
      }
    },
  };
}

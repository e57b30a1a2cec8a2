/**
 * Named fault points (after DBOS's debugTriggerPoint): tests arm one to simulate a process
 * dying at an exact place, instead of sleeping and hoping. Production wires none.
 */
export const FAULT_POINTS = ['afterPromptBeforeLlm', 'afterLlmBeforeCommit', 'beforeRelease', 'beforeAttest', 'afterAttest'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export interface FaultPoints {
  /** Throws (a crash), kills the process, or returns a promise the engine awaits (a pause). */
  hit(point: FaultPoint): void | Promise<void>;
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

/**
 * Holds the engine at `point` (the first time it is reached) until `release()` is called:
 * interleavings are made deterministic by doing something else while it waits there.
 * `reached` settles once the engine is waiting at the point.
 */
export function pauseAt(point: FaultPoint): FaultPoints & { readonly reached: Promise<void>; release(): void } {
  let reach!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  let armed = true;
  return {
    reached,
    release,
    hit(at) {
      if (at !== point || !armed) return;
      armed = false;
      reach();
      return released;
    },
  };
}

/**
 * For crash tests of real processes: `STEPGATE_FAULT=<point>` makes the process kill itself
 * with SIGKILL the first time it reaches that point — a real crash, with nothing cleaned up.
 * Unset (always, outside such tests), nothing is armed.
 */
export function faultsFromEnv(env: NodeJS.ProcessEnv): FaultPoints | undefined {
  const point = env.STEPGATE_FAULT;
  if (!point) return undefined;
  if (!(FAULT_POINTS as readonly string[]).includes(point)) throw new Error(`STEPGATE_FAULT=${point}: expected one of ${FAULT_POINTS.join(', ')}`);
  return {
    hit(reached) {
      if (reached === point) process.kill(process.pid, 'SIGKILL');
    },
  };
}

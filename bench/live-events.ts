/**
 * Live events under load: 20 clients doing A→B→C back to back while one subscriber (the
 * console, `stepgate watch`) follows every event, and how long each run's settling event
 * (`run_waiting`, `run_succeeded`) took to reach that subscriber after the statement that
 * committed it returned (the runner's flush that released the run: timed at the run store).
 * Written against the engine's functions passed in, so that bench/ab.ts can run it on another
 * checkout's code.
 */
import { median, percentile } from './stats.js';

/** The few engine functions a run of A→B→C needs (src/engine/*), and the deps they take. */
export interface EngineFunctions<Deps> {
  startRun(deps: Deps, input: { manifestId: string; inputs: unknown }): Promise<{ run: { id: string }; stepRuns: Array<{ id: string; stepKey: string }> }>;
  attestStep(deps: Deps, runId: string, stepRunId: string, input: unknown): Promise<unknown>;
  resumeRun(deps: Deps, runId: string): Promise<{ run: { status: string } }>;
}

/** What the hub hands a subscriber: a RecordedEvent ({kind, runId}) now, a RunEvent ({kind, run_id}) before. */
type Heard = { kind: string; runId?: string; run_id?: string };
type Flush = (guard: { runId: string }, writes: ReadonlyArray<{ kind: string; status?: string }>) => Promise<{ released: boolean }>;
// (Method syntax: the engine's store takes its own, narrower guard and writes.)
type Subscribable = { events: { subscribe(onEvent: (event: Heard) => void): Promise<() => void> }; store: { flush(guard: { runId: string }, writes: ReadonlyArray<{ kind: string; status?: string }>): Promise<{ released: boolean }> } };
const RELEASED: Record<string, string> = { waiting: 'run_waiting', success: 'run_succeeded', error: 'run_failed' };

const ATTESTATION = { outcome: 'SUCCESS', attestedBy: 'bench', tokenId: null, artifacts: [{ name: 'out', uri: 'file:///bench/out', sha256: 'd'.repeat(64), bytes: 1 }] };

export interface LiveFigures {
  readonly runsPerSecond: number;
  /** Milliseconds from the committing statement's return to the subscriber (0 when the event came first). */
  readonly delays: number[];
  /** Milliseconds from the moment the committing statement was sent (its queueing for a commit included) to the subscriber. */
  readonly sinceSent: number[];
}

/**
 * `clients` clients doing A→B→C for `seconds`, with (or without) a live subscriber; the
 * delays of the settling events it heard.
 */
export async function liveEventLoad<Deps extends Subscribable>(
  engine: EngineFunctions<Deps>,
  deps: Deps,
  manifestId: string,
  options: { clients: number; seconds: number; subscriber: boolean },
): Promise<LiveFigures> {
  const returned = new Map<string, number>();
  const sent = new Map<string, number>();
  const heard = new Map<string, number>();
  const key = (runId: string, kind: string) => `${runId}:${kind}`;
  // The moment each release committed, as the runner learnt it.
  const store = deps.store;
  const flush: Flush = async (guard, writes) => {
    const began = performance.now();
    const result = await store.flush.call(store, guard, writes);
    const release = writes.find((w) => w.kind === 'release');
    if (release && result.released) {
      const settling = key(guard.runId, RELEASED[release.status!]!);
      returned.set(settling, performance.now());
      sent.set(settling, began);
    }
    return result;
  };
  (deps as { store: unknown }).store = { ...store, flush };
  const unsubscribe = options.subscriber
    ? await deps.events.subscribe((event) => {
        if (event.kind === 'run_waiting' || event.kind === 'run_succeeded') heard.set(key(event.runId ?? event.run_id!, event.kind), performance.now());
      })
    : () => {};
  let completed = 0;
  const deadline = performance.now() + options.seconds * 1000;
  const began = performance.now();
  try {
    await Promise.all(
      Array.from({ length: options.clients }, async (_, client) => {
        for (let i = 0; performance.now() < deadline; i++) {
          const started = await engine.startRun(deps, { manifestId, inputs: { tag: `live-${client}-${i}` } });
          const b = started.stepRuns.find((s) => s.stepKey === 'B')!;
          await engine.attestStep(deps, started.run.id, b.id, ATTESTATION);
          const resumed = await engine.resumeRun(deps, started.run.id);
          if (resumed.run.status !== 'success') throw new Error(`run ${started.run.id} ended ${resumed.run.status}`);
          completed++;
        }
      }),
    );
    const runsPerSecond = completed / ((performance.now() - began) / 1000);
    if (!options.subscriber) return { runsPerSecond, delays: [], sinceSent: [] };
    // The last events may still be on their way.
    for (let waited = 0; heard.size < returned.size && waited < 30_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    if (heard.size < returned.size) throw new Error(`the subscriber heard ${heard.size} of ${returned.size} settling events`);
    const delays = [...returned].map(([k, at]) => Math.max(0, heard.get(k)! - at));
    const sinceSent = [...sent].map(([k, at]) => heard.get(k)! - at);
    return { runsPerSecond, delays, sinceSent };
  } finally {
    unsubscribe();
    (deps as { store: unknown }).store = store;
  }
}

export const delayFigures = (delays: number[]) => ({ p50: median(delays), p99: percentile(delays, 99) });

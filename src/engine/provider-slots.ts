import PQueue from 'p-queue';
import { DEFAULT_PROVIDER_CONCURRENCY, type LlmProvider } from '../core/llm.js';

/**
 * At most `max_concurrency` calls in flight per provider in this process (SPEC §16), across
 * every run it executes: a call waits for a slot in a first-come queue, so that the steps
 * a run makes ready together start in the plan's order. A call whose run is cancelled while
 * it waits leaves the queue at once, without taking a slot.
 */
export interface ProviderSlots {
  /** Runs `call` once a slot of `provider` is free; rejects with `signal.reason` if aborted while it waits. */
  run<T>(provider: string, signal: AbortSignal, call: () => Promise<T>): Promise<T>;
  /** Calls of `provider` in flight now (for the benchmark and the tests). */
  inFlight(provider: string): number;
}

export function createProviderSlots(providers: ReadonlyMap<string, LlmProvider>): ProviderSlots {
  const queues = new Map<string, PQueue>();
  const queueOf = (name: string) => {
    let queue = queues.get(name);
    if (!queue) {
      queue = new PQueue({ concurrency: providers.get(name)?.maxConcurrency ?? DEFAULT_PROVIDER_CONCURRENCY });
      queues.set(name, queue);
    }
    return queue;
  };
  return {
    async run(provider, signal, call) {
      // The queue's own signal only takes a call out of the queue: once it runs, the call
      // itself answers the abort (and records it), so the queue must not give up on it.
      const waiting = new AbortController();
      let running = false;
      const leave = () => {
        if (!running) waiting.abort(signal.reason);
      };
      signal.addEventListener('abort', leave, { once: true });
      if (signal.aborted) leave();
      try {
        return await queueOf(provider).add(
          () => {
            running = true;
            return call();
          },
          { signal: waiting.signal },
        );
      } finally {
        signal.removeEventListener('abort', leave);
      }
    },
    inFlight: (provider) => queues.get(provider)?.pending ?? 0,
  };
}

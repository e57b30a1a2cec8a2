import type { FlushResult, RunnerWrite } from '../core/run-store.js';

/**
 * The writes of one run's runner, flushed one statement at a time (SPEC §15: writes of one
 * run stay serialized). Whatever is queued while a flush is under way — the outcomes of
 * steps that ended meanwhile and the starts of the steps they unblocked — goes out together
 * in the next one, so a finished step costs about one statement however many are in flight.
 * Each flush waits for the current turn of the event loop to end first, so that everything
 * decided in it shares the statement.
 */
export class WriteBatch {
  private queued: RunnerWrite[] = [];
  private waiters: Array<{ resolve(result: FlushResult): void; reject(err: unknown): void }> = [];
  private draining = false;

  constructor(private readonly write: (writes: RunnerWrite[]) => Promise<FlushResult>) {}

  queue(write: RunnerWrite): void {
    this.queued.push(write);
  }

  /** Queued, not yet carried by a flush. */
  get pending(): readonly RunnerWrite[] {
    return this.queued;
  }

  /** Takes writes out of the queue (decided on a state that has changed meanwhile). */
  discard(stale: (write: RunnerWrite) => boolean): void {
    this.queued = this.queued.filter((write) => !stale(write));
  }

  /** Flushes what is queued now, with what else is queued until the flush goes out; its result. */
  flush(): Promise<FlushResult> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  /** Makes sure what is queued is flushed soon, without waiting for it. */
  schedule(): void {
    if (this.draining) return;
    this.draining = true;
    void this.drain();
  }

  private async drain(): Promise<void> {
    try {
      for (;;) {
        await new Promise((resolve) => setImmediate(resolve));
        if (this.queued.length === 0 && this.waiters.length === 0) return;
        const writes = this.queued;
        const waiters = this.waiters;
        this.queued = [];
        this.waiters = [];
        try {
          const result = await this.write(writes);
          for (const waiter of waiters) waiter.resolve(result);
        } catch (err) {
          for (const waiter of waiters) waiter.reject(err);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}

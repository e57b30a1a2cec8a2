import { EVENTS_CHANNEL, eventIdAfter, type RunEvent, type RunEventKind } from '../core/events.js';
import type { Database, Db } from '../storage/database.js';
import { lastEventId, readEvents } from '../storage/run-events.js';

export interface EventFilter {
  readonly runId?: string | undefined;
  readonly kinds?: readonly RunEventKind[] | undefined;
}

/**
 * The in-process hub of run events (SPEC §12): one LISTEN per process (started by the first
 * subscriber), fanned out to every subscriber whose filter matches. Events of every server
 * process sharing the database arrive here, in commit order.
 */
export interface EventHub {
  /** Calls `onEvent` for each event committed from now on that passes `filter`; answers the unsubscribe. */
  subscribe(onEvent: (event: RunEvent) => void, filter?: EventFilter): Promise<() => void>;
  /** Committed events with an id greater than `after`, in id order, from the database. */
  read(after: string, filter: EventFilter, limit: number): Promise<RunEvent[]>;
  /** The newest event's id ('0' when none), of one run or of all. */
  lastId(runId?: string): Promise<string>;
}

export const matches = (event: RunEvent, filter: EventFilter | undefined): boolean =>
  (filter?.runId === undefined || event.run_id === filter.runId) && (filter?.kinds === undefined || filter.kinds.includes(event.kind));

const RECENT = 10_000;

export function createEventHub(db: Db, listen: Database['listen']): EventHub {
  const subscribers = new Set<{ onEvent: (event: RunEvent) => void; filter: EventFilter | undefined }>();
  let started: Promise<void> | undefined;
  /** The greatest id heard of: after a reconnect, what came since is read back from the table. */
  let lastSeen = '0';
  /** Ids delivered lately: an event both notified and read back after a reconnect goes out once. */
  const recent = new Set<string>();

  const deliver = (event: RunEvent) => {
    if (recent.has(event.id)) return;
    recent.add(event.id);
    if (recent.size > RECENT) recent.delete(recent.values().next().value!);
    if (eventIdAfter(event.id, lastSeen)) lastSeen = event.id;
    for (const subscriber of subscribers) {
      if (!matches(event, subscriber.filter)) continue;
      try {
        subscriber.onEvent(event);
      } catch {
        // One subscriber's failure is its own: the others still hear of the event.
      }
    }
  };

  const catchUp = async () => {
    for (;;) {
      const missed = await readEvents(db, { after: lastSeen, limit: 1_000 });
      for (const event of missed) deliver(event);
      if (missed.length < 1_000) return;
    }
  };

  const start = async () => {
    await listen(
      EVENTS_CHANNEL,
      (payload) => {
        let event: RunEvent;
        try {
          event = JSON.parse(payload) as RunEvent;
        } catch {
          return;
        }
        deliver(event);
      },
      () => void catchUp().catch(() => {}),
    );
    const newest = await lastEventId(db);
    if (eventIdAfter(newest, lastSeen)) lastSeen = newest;
  };

  return {
    async subscribe(onEvent, filter) {
      const subscriber = { onEvent, filter };
      subscribers.add(subscriber);
      try {
        started ??= start().catch((err: unknown) => {
          started = undefined;
          throw err;
        });
        await started;
      } catch (err) {
        subscribers.delete(subscriber);
        throw err;
      }
      return () => void subscribers.delete(subscriber);
    },
    read: (after, filter, limit) => readEvents(db, { after, runId: filter.runId, kinds: filter.kinds, limit }),
    lastId: (runId) => lastEventId(db, runId),
  };
}

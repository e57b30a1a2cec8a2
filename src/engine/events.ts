import { randomUUID } from 'node:crypto';
import { EVENTS_CHANNEL, isAfter, later, START, type EventPosition, type RecordedEvent, type RunEventKind } from '../core/events.js';
import type { RunStore } from '../core/run-store.js';
import type { Database, Db, PreparedRunner } from '../storage/database.js';
import { announceEvents, lastRunPosition, positionOfEvent, readRunEvents, readSettledEvents, settledNow } from '../storage/run-events.js';

export interface EventFilter {
  readonly runId?: string | undefined;
  readonly kinds?: readonly RunEventKind[] | undefined;
}

/** Where a stream's events go: an SSE response (http/routes/events.ts). */
export interface EventSink {
  /** Sends one event; false when the client is not keeping up: wait for `drained()` before the next. */
  send(event: RecordedEvent): boolean;
  /** Settles when the client has taken what was sent, or is gone. */
  drained(): Promise<void>;
  /** Aborted when the client is gone or the server closes: the stream ends at once. */
  readonly signal: AbortSignal;
  /** Called once live events are being taken (at once without `follow`): an event committed from then on is sent. */
  opened(): void;
}

export interface StreamOptions {
  /** Replay the events after this position first; undefined: live events only. */
  readonly after: EventPosition | undefined;
  readonly filter: EventFilter;
  /** Go on with live events once replayed (until the signal), or end there. */
  readonly follow: boolean;
  /** Without `follow`: at most this many events, then `more`. */
  readonly limit: number;
}

/**
 * The in-process hub of run events (SPEC §12, docs/events.md). One reader per process follows
 * `run_events` by position while anyone listens, and fans each settled event out to every
 * subscriber whose filter matches — in the order of the record, each once. It reads when
 * woken: after a transition committed in this process (`committed()`, which the run store
 * calls), when another process sharing the database says it committed some (a NOTIFY on
 * `stepgate_events`, sent after its commit, never inside it), when events were held back by a
 * transaction still running (a short timer), after a lost LISTEN came back, and at the latest
 * every `pollMs`.
 */
export interface EventHub {
  /** Calls `onEvent` for each event committed from now on that passes `filter`; answers the unsubscribe. */
  subscribe(onEvent: (event: RecordedEvent) => void, filter?: EventFilter): Promise<() => void>;
  /**
   * Replays from the database what came after `options.after`, then (with `follow`) goes on
   * live — each event once, in order, whatever the range: the replay reads a page at a time
   * and waits for a slow client instead of buffering; a client that falls behind live events
   * is served from the database again. Ends when the signal aborts, or (without `follow`)
   * once replayed, answering where to continue when it stopped at `limit`.
   */
  stream(sink: EventSink, options: StreamOptions): Promise<{ more: EventPosition | undefined }>;
  /** A run's committed events after `after`, in order (its own runner's catch-up). */
  readRun(runId: string, after: EventPosition, limit: number): Promise<RecordedEvent[]>;
  /** The position of a run's newest event (START when none). */
  lastOfRun(runId: string): Promise<EventPosition>;
  /** The position of the event with this id, for a `Last-Event-ID` that is an event's id; undefined when there is none. */
  positionOf(eventId: bigint): Promise<EventPosition | undefined>;
  /** A transition committed in this process: look for its events now (and tell the other processes). */
  committed(): void;
  /** Streams open now and events sent by their replays so far (for /metrics and tests). */
  stats(): { readonly streams: number; readonly replayed: number };
}

export const matches = (event: RecordedEvent, filter: EventFilter | undefined): boolean =>
  (filter?.runId === undefined || event.runId === filter.runId) && (filter?.kinds === undefined || filter.kinds.includes(event.kind));

const PAGE = 1_000;
/** First wait before looking again at events held back by a running transaction; doubled up to HELD_MAX_MS. */
const HELD_FIRST_MS = 2;
const HELD_MAX_MS = 200;
/**
 * How long a replay that does not follow (`follow=false`) waits for events held back by a
 * transaction still running, before it answers without them: a replay answers what was
 * committed when it was asked, not only what no transaction happened to hold back.
 */
const HELD_REPLAY_MAX_MS = 2_000;
/** Reads of the record under way at once, at most (see read()). */
const READERS = 2;
/** After a failed read. */
const RETRY_MS = 1_000;
/** The shortest interval between two wake-ups this process sends the others (shared databases). */
const ANNOUNCE_EVERY_MS = 5;

export interface EventHubOptions {
  /** The driver's LISTEN; without it nothing arrives from other processes. */
  readonly listen?: Database['listen'] | undefined;
  /**
   * Other processes may write to this database (a PostgreSQL server of DATABASE_URL): they are
   * woken after each commit here, and this process LISTENs for theirs. False where one process
   * owns the database (the embedded server, PGlite): no NOTIFY at all.
   */
  readonly shared: boolean;
  /** The longest a committed event waits for a reader that nobody woke (default 1 s). */
  readonly pollMs?: number;
  /** Named prepared statements, where the driver has them (the reads repeat). */
  readonly prepared?: PreparedRunner | undefined;
}

export function createEventHub(db: Db, options: EventHubOptions): EventHub {
  const sender = `stepgate:${randomUUID()}`;
  const subscribers = new Set<{ onEvent: (event: RecordedEvent) => void; filter: EventFilter | undefined }>();
  const stats = { streams: 0, replayed: 0 };
  /**
   * How far the hub has delivered: every settled event up to here went to the subscribers of
   * the time. Undefined while nobody listens (nothing is read then); each spell with
   * subscribers is an epoch of its own, so that a read of an earlier one delivers nothing.
   */
  let position: EventPosition | undefined;
  let epoch = 0;
  let positioned: Promise<void> | undefined;
  let listening: Promise<void> | undefined;
  let reads = 0;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;
  let heldMs = HELD_FIRST_MS;

  const deliver = (event: RecordedEvent) => {
    for (const subscriber of subscribers) {
      if (!matches(event, subscriber.filter)) continue;
      try {
        subscriber.onEvent(event);
      } catch {
        // One subscriber's failure is its own: the others still hear of the event.
      }
    }
  };

  const wakeIn = (ms: number) => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      wake();
    }, ms).unref();
  };

  /**
   * One read from where the hub is. Reads may overlap (a wake-up need not wait for the read
   * before it): the settled events are a prefix of the record that only grows, so each read
   * answers every event between its start and what it reached, and applying them in any
   * order — the events past `position`, then `position` to the furthest point reached —
   * keeps the order and misses nothing.
   */
  async function read(): Promise<void> {
    const mine = epoch;
    const page = await readSettledEvents(db, options.prepared, { after: position!, limit: PAGE });
    if (epoch !== mine || position === undefined) return;
    for (const event of page.events) {
      if (!isAfter(event.position, position)) continue;
      position = event.position;
      deliver(event);
    }
    position = later(position, page.reached);
    if (page.full) again = true;
    else if (page.held) {
      wakeIn(heldMs);
      heldMs = Math.min(heldMs * 2, HELD_MAX_MS);
    } else heldMs = HELD_FIRST_MS;
  }

  /** Starts a read unless READERS are under way; then one more follows when one ends. */
  function wake(): void {
    if (position === undefined) return;
    if (reads >= READERS) {
      again = true;
      return;
    }
    reads++;
    again = false;
    void read()
      .catch(() => wakeIn(RETRY_MS))
      .finally(() => {
        reads--;
        if (again) wake();
      });
  }

  const listen = async () => {
    if (options.shared && options.listen) {
      await options.listen(
        EVENTS_CHANNEL,
        (payload) => {
          if (payload !== sender) wake();
        },
        wake,
      );
    }
  };

  let announcing = false;
  let announceAgain = false;
  let announceTimer: NodeJS.Timeout | undefined;
  let lastAnnounced = Number.NEGATIVE_INFINITY;
  /**
   * Tells the other processes, at most once every ANNOUNCE_EVERY_MS and one NOTIFY at a time:
   * a commit after a quiet spell is announced at once, a burst of them by one NOTIFY a few
   * milliseconds later.
   */
  const announce = () => {
    if (announcing || announceTimer) {
      announceAgain = true;
      return;
    }
    const wait = lastAnnounced + ANNOUNCE_EVERY_MS - performance.now();
    if (wait > 0) {
      announceTimer = setTimeout(() => {
        announceTimer = undefined;
        announce();
      }, wait).unref();
      return;
    }
    announcing = true;
    announceAgain = false;
    lastAnnounced = performance.now();
    void announceEvents(db, sender)
      // A lost wake-up: the other processes read at the latest after their poll interval.
      .catch(() => {})
      .finally(() => {
        announcing = false;
        if (announceAgain) announce();
      });
  };

  const subscribe: EventHub['subscribe'] = async (onEvent, filter) => {
    const subscriber = { onEvent, filter };
    subscribers.add(subscriber);
    const leave = () => {
      if (!subscribers.delete(subscriber) || subscribers.size > 0) return;
      epoch++;
      position = undefined;
      positioned = undefined;
      clearInterval(poll);
      poll = undefined;
    };
    try {
      listening ??= listen().catch((err: unknown) => {
        listening = undefined;
        throw err;
      });
      positioned ??= (async () => {
        const mine = epoch;
        await listening;
        const now = await settledNow(db);
        if (epoch !== mine) return;
        position = now;
        poll = setInterval(wake, options.pollMs ?? 1_000).unref();
      })().catch((err: unknown) => {
        positioned = undefined;
        throw err;
      });
      await positioned;
    } catch (err) {
      leave();
      throw err;
    }
    return leave;
  };

  /**
   * Sends what the record holds after `from`, a page at a time, waiting for the client when it
   * lags, until `caughtUp(cursor)` (called when a read found nothing more) says to stop or
   * `budget` events were sent. Answers the cursor and whether the budget stopped it.
   */
  async function replay(sink: EventSink, filter: EventFilter, from: EventPosition, budget: number, caughtUp: (cursor: EventPosition) => boolean, waitForHeld = false) {
    let cursor = from;
    let sent = 0;
    let heldMs = HELD_FIRST_MS;
    let waited = 0;
    for (;;) {
      const page = await readSettledEvents(db, options.prepared, { after: cursor, runId: filter.runId, kinds: filter.kinds, limit: Math.min(PAGE, budget - sent + 1) });
      for (const event of page.events) {
        if (sink.signal.aborted) return { cursor, more: false };
        if (sent === budget) return { cursor, more: true };
        sent++;
        stats.replayed++;
        cursor = event.position;
        if (!sink.send(event)) await sink.drained();
      }
      if (sink.signal.aborted) return { cursor, more: false };
      cursor = page.reached;
      if (!page.full && page.held && waitForHeld && waited < HELD_REPLAY_MAX_MS) {
        await new Promise((resolve) => setTimeout(resolve, heldMs));
        waited += heldMs;
        heldMs = Math.min(heldMs * 2, HELD_MAX_MS);
        continue;
      }
      if (!page.full && caughtUp(cursor)) return { cursor, more: false };
    }
  }

  async function follow(sink: EventSink, filter: EventFilter, after: EventPosition | undefined): Promise<void> {
    // Events are taken live only in the live state; otherwise they are read back from the
    // database once the stream catches up (so a slow client costs the server a cursor, not a buffer).
    let cursor = after ?? START;
    let state: 'live' | 'replay' | 'behind' = after === undefined ? 'live' : 'replay';
    // (Read through a function: the subscriber changes it between awaits.)
    const now = () => state;
    let nudge: () => void = () => {};
    const unsubscribe = await subscribe((event) => {
      if (state !== 'live' || !isAfter(event.position, cursor)) return;
      cursor = event.position;
      if (!sink.send(event)) {
        state = 'behind';
        nudge();
      }
    }, filter);
    sink.opened();
    const aborted = new Promise<void>((resolve) => sink.signal.addEventListener('abort', () => resolve(), { once: true }));
    // Called with no await since the read: if the hub has not delivered past the replay's
    // cursor, everything it sends from now on is after it, so the stream goes live here.
    const caughtUp = (at: EventPosition) => {
      if (position !== undefined && isAfter(position, at)) return false;
      cursor = at;
      state = 'live';
      return true;
    };
    try {
      while (!sink.signal.aborted) {
        if (now() === 'live') await Promise.race([aborted, new Promise<void>((resolve) => (nudge = resolve))]);
        else if (now() === 'behind') {
          await Promise.race([aborted, sink.drained()]);
          state = 'replay';
        } else await replay(sink, filter, cursor, Number.POSITIVE_INFINITY, caughtUp);
      }
    } finally {
      unsubscribe();
    }
  }

  return {
    subscribe,
    async stream(sink, streamOptions) {
      stats.streams++;
      try {
        if (streamOptions.follow) {
          await follow(sink, streamOptions.filter, streamOptions.after);
          return { more: undefined };
        }
        sink.opened();
        if (streamOptions.after === undefined) return { more: undefined };
        const done = await replay(sink, streamOptions.filter, streamOptions.after, streamOptions.limit, () => true, true);
        return { more: done.more ? done.cursor : undefined };
      } finally {
        stats.streams--;
      }
    },
    readRun: (runId, after, limit) => readRunEvents(db, options.prepared, runId, after, limit),
    lastOfRun: (runId) => lastRunPosition(db, options.prepared, runId),
    positionOf: (eventId) => positionOfEvent(db, eventId),
    committed() {
      wake();
      if (options.shared) announce();
    },
    stats: () => ({ ...stats }),
  };
}

/** Store methods that never commit an event. */
const QUIET = new Set<keyof RunStore>(['readStepRuns', 'renewLease']);

/**
 * The run store, telling the hub after every transition that may have committed events (every
 * method but the two that never do, so that a transition added later is covered by default).
 * Each store method is one statement in a transaction of its own: once it settles, its events
 * are committed.
 */
export function announcingStore(store: RunStore, hub: Pick<EventHub, 'committed'>): RunStore {
  const wrapped: Record<string, unknown> = { ...store };
  for (const [name, method] of Object.entries(store) as Array<[keyof RunStore, (...args: unknown[]) => Promise<unknown>]>) {
    if (QUIET.has(name)) continue;
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await method(...args);
      } finally {
        hub.committed();
      }
    };
  }
  return wrapped as unknown as RunStore;
}
